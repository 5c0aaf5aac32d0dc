"""The control API under ``/_sim/``: no auth, JSON in and out, never part of the vendor API."""

from __future__ import annotations

from lucidsim import cliops, state, stats
from lucidsim.config import OMIT_OPTIONAL, OPTIONAL_FIELDS, ConfigError, check_omit_fields
from lucidsim.errors import ApiError
from lucidsim.http import BadJson, Request, Response, json_response, route
from lucidsim.observe import FaultBook, Ledger
from lucidsim.validation import PROVIDERS

# Five years: enough for any demo, small enough for dates and the month-by-month invoice loop.
MAX_CLOCK_JUMP = 5 * 366 * 86_400


class Controls:
    def __init__(self, sim: state.Simulator, faults: FaultBook, ledger: Ledger) -> None:
        self.sim = sim
        self.faults = faults
        self.ledger = ledger
        self.routes = [
            route("POST", "/_sim/reset", "reset", self.reset),
            route("GET", "/_sim/config", "config", self.config),
            route("PATCH", "/_sim/config", "config", self.patch_config),
            route("GET", "/_sim/clock", "clock", self.clock),
            route("POST", "/_sim/clock/advance", "clock", self.advance),
            route("GET", "/_sim/filespaces", "filespaces", self.list_filespaces),
            route("POST", "/_sim/filespaces/{id}/status", "status", self.set_status),
            route("PATCH", "/_sim/filespaces/{id}/stats", "stats", self.set_stats),
            route("GET", "/_sim/faults", "faults", self.list_faults),
            route("POST", "/_sim/faults", "faults", self.add_fault),
            route("DELETE", "/_sim/faults", "faults", self.clear_faults),
            route("POST", "/_sim/tokens/expire", "tokens", self.expire_tokens),
            route("POST", "/_sim/tokens/revoke", "tokens", self.revoke_tokens),
            route("GET", "/_sim/regions", "regions", self.regions),
            route("POST", "/_sim/regions/disable", "regions", self.disable_region),
            route("POST", "/_sim/regions/enable", "regions", self.enable_region),
            route("GET", "/_sim/ledger", "ledger", self.get_ledger),
            route("DELETE", "/_sim/ledger", "ledger", self.clear_ledger),
            route("POST", "/_sim/billing/close-period", "billing", self.close_period),
            route("POST", "/_sim/cli/{command}", "cli", self.cli),
        ]

    @staticmethod
    def _body(request: Request) -> dict:
        try:
            body = request.json()
        except BadJson as exc:
            raise ApiError(400, f"Malformed JSON: {exc}.") from None
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise ApiError(400, "The body must be a JSON object.")
        return body

    @staticmethod
    def _number(
        body: dict, key: str, *, minimum: float = 0, maximum: float = 10**15
    ) -> float | None:
        value = body.get(key)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not minimum <= value <= maximum
        ):
            raise ApiError(400, f"{key} must be a number from {minimum} to {maximum}.")
        return value

    def reset(self, request: Request) -> Response:
        now_ms = self._number(self._body(request), "now_ms", maximum=2**53)
        self.sim.reset(None if now_ms is None else int(now_ms))
        self.faults.clear()
        self.ledger.clear()
        return json_response(200, {"reset": True})

    def _config(self) -> dict:
        settings = self.sim.settings
        return {
            "provisioning_delay": settings.provisioning_delay,
            "token_ttl": settings.token_ttl,
            "omit_fields": list(settings.omit_fields),
            "optional_fields": list(OPTIONAL_FIELDS),
            "seed": self.sim.config.seed,
            "accounts": [
                {"client_id": a.client_id, "domain_name": a.domain_name}
                for a in self.sim.config.accounts
            ],
        }

    def config(self, request: Request) -> Response:
        return json_response(200, self._config())

    def patch_config(self, request: Request) -> Response:
        body = self._body(request)
        delay = self._number(body, "provisioning_delay", maximum=MAX_CLOCK_JUMP)
        ttl = self._number(body, "token_ttl", minimum=1, maximum=MAX_CLOCK_JUMP)
        omit = None
        if body.get("omit_optional") is not None:
            if not isinstance(body["omit_optional"], bool):
                raise ApiError(400, "omit_optional must be true or false.")
            omit = OMIT_OPTIONAL if body["omit_optional"] else ()
        if body.get("omit_fields") is not None:
            try:
                omit = check_omit_fields(body["omit_fields"])
            except ConfigError as exc:
                raise ApiError(400, str(exc)) from None
        self.sim.set_settings(delay, None if ttl is None else int(ttl), omit)
        return json_response(200, self._config())

    def clock(self, request: Request) -> Response:
        return json_response(200, {"now_ms": self.sim.now_ms()})

    def advance(self, request: Request) -> Response:
        seconds = self._number(self._body(request), "seconds", maximum=MAX_CLOCK_JUMP)
        if seconds is None:
            raise ApiError(400, "seconds is required.")
        return json_response(200, {"now_ms": self.sim.advance_clock(seconds)})

    def list_filespaces(self, request: Request) -> Response:
        """Every live filespace of every account, with the CLI-side facts the API hides."""
        with self.sim.lock:
            now = self.sim.now_ms()
            listed = []
            for fs_id in list(self.sim.live_names.values()):
                fs = self.sim.find_live(None, fs_id)
                view = self.sim.filespace_view(fs, now)
                view["qualifiedName"] = self.sim.qualified_name(fs)
                view["client_id"] = fs["client_id"]
                view["created_ms"] = fs["created_ms"]
                view["users"] = sorted(u["name"] for u in fs["users"].values())
                view["snapshots"] = len(fs["snapshots"])
                view["schedules"] = sorted(s["name"] for s in fs["schedules"].values())
                view["blockSize"] = fs.get("block_size")
                listed.append(view)
        return json_response(200, {"filespaces": listed})

    def set_status(self, request: Request, id: str) -> Response:
        status = self._body(request).get("status")
        if status not in state.STATUSES:
            raise ApiError(400, f"status must be one of {', '.join(state.STATUSES)}.")
        return json_response(200, self.sim.set_status(id, status))

    def set_stats(self, request: Request, id: str) -> Response:
        body = self._body(request)
        values = {}
        for name in stats.STAT_FIELDS:
            if name in body:
                value = self._number(body, name)
                if value is None or value != int(value):
                    raise ApiError(400, f"{name} must be a whole number of at least 0.")
                values[name] = int(value)
        unknown = sorted(set(body) - set(stats.STAT_FIELDS))
        if unknown:
            raise ApiError(400, f"Unknown stats fields: {', '.join(unknown)}.")
        return json_response(200, self.sim.set_stats(id, values))

    def list_faults(self, request: Request) -> Response:
        return json_response(200, {"faults": self.faults.list()})

    def add_fault(self, request: Request) -> Response:
        body = self._body(request)
        for key in ("operation", "method", "path_prefix", "body"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise ApiError(400, f"{key} must be a string or null.")
        status = body.get("status")
        if status is not None and (
            isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
        ):
            raise ApiError(400, "status must be an HTTP status code or null.")
        times = body.get("times", 1)
        if isinstance(times, bool) or not isinstance(times, int) or times == 0 or times < -1:
            raise ApiError(400, "times must be a positive whole number, or -1 for forever.")
        fault = self.faults.add(
            operation=body.get("operation"),
            method=body.get("method"),
            path_prefix=body.get("path_prefix"),
            status=status,
            retry_after=self._number(body, "retry_after", maximum=86_400),
            delay_seconds=float(self._number(body, "delay_seconds", maximum=600) or 0),
            body=body.get("body"),
            times=times,
            drop_after=self._flag(body, "drop_after"),
        )
        return json_response(201, {"id": fault.id})

    @staticmethod
    def _flag(body: dict, key: str) -> bool:
        value = body.get(key, False)
        if not isinstance(value, bool):
            raise ApiError(400, f"{key} must be true or false.")
        return value

    def clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return json_response(200, {"faults": []})

    def expire_tokens(self, request: Request) -> Response:
        return json_response(200, {"expired": self.sim.end_tokens(revoke=False)})

    def revoke_tokens(self, request: Request) -> Response:
        return json_response(200, {"revoked": self.sim.end_tokens(revoke=True)})

    def regions(self, request: Request) -> Response:
        disabled = [{"provider": p, "region": r} for p, r in sorted(self.sim.disabled_regions)]
        return json_response(200, {"disabled": disabled})

    def _region(self, request: Request, *, disabled: bool) -> Response:
        body = self._body(request)
        provider, region = body.get("provider"), body.get("region")
        if provider not in PROVIDERS or not isinstance(region, str) or not region:
            raise ApiError(400, "provider (a documented provider) and region are required.")
        self.sim.set_region(provider, region, disabled=disabled)
        return self.regions(request)

    def disable_region(self, request: Request) -> Response:
        return self._region(request, disabled=True)

    def enable_region(self, request: Request) -> Response:
        return self._region(request, disabled=False)

    def get_ledger(self, request: Request) -> Response:
        return json_response(200, self.ledger.snapshot())

    def clear_ledger(self, request: Request) -> Response:
        self.ledger.clear()
        return json_response(200, {"calls": [], "by_operation": {}, "by_filespace": {}})

    def close_period(self, request: Request) -> Response:
        client_id = self._body(request).get("client_id")
        if client_id is not None and client_id not in self.sim.accounts:
            raise ApiError(404, "Unknown client_id.")
        chosen = [client_id] if client_id else list(self.sim.accounts)
        invoices = {cid: self.sim.close_period(cid) for cid in chosen}
        return json_response(200, {"invoices": invoices})

    def cli(self, request: Request, command: str) -> Response:
        operation = cliops.OPERATIONS.get(command)
        if operation is None:
            raise ApiError(404, f"Unknown CLI operation {command!r}.")
        body = self._body(request)
        fs_name = body.get("fs") if isinstance(body.get("fs"), str) else None
        status = 200
        try:
            return json_response(200, operation(self.sim, body))
        except ApiError as exc:
            status = exc.status
            raise
        finally:
            self.ledger.record(
                at_ms=self.sim.now_ms(),
                method="POST",
                path=request.path,
                operation=f"cli.{command}",
                status=status,
                filespace_name=fs_name.partition(".")[0] if fs_name else None,
                client_id=None,
            )
