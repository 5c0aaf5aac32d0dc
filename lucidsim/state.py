"""The simulator's state: accounts, tokens, domains, filespaces, clock and billing periods.

Everything lives in memory behind one lock and is written through to SQLite on every change, so
a restart with the same state file keeps domains, filespaces, tokens, invoices and the clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
import threading
import time
import uuid
from dataclasses import dataclass

from lucidsim import errors, stats, validation
from lucidsim.config import Config
from lucidsim.errors import ApiError
from lucidsim.periods import BillingPeriods
from lucidsim.persistence import Persistence

STATUSES = ("provisioning", "provisioned", "initialized", "error")
TOKEN_PURGE_AT = 1000


@dataclass
class Settings:
    provisioning_delay: float
    token_ttl: int
    omit_fields: tuple[str, ...] = ()


def without_fields(view: dict, paths: tuple[str, ...]) -> dict:
    """A copy of a filespace answer with the given optional fields (``a`` or ``a.b``) left out."""
    trimmed = {**view}
    if isinstance(trimmed.get("storage"), dict):
        trimmed["storage"] = dict(trimmed["storage"])
    if isinstance(trimmed.get("stats"), dict):
        trimmed["stats"] = dict(trimmed["stats"])
    for path in paths:
        head, _, tail = path.partition(".")
        if not tail:
            trimmed.pop(head, None)
        elif isinstance(trimmed.get(head), dict):
            trimmed[head].pop(tail, None)
    return trimmed


def _token_key(token: str) -> str:
    # Only a digest of each token is kept, so the state file holds no usable credential.
    return hashlib.sha256(token.encode()).hexdigest()


class Simulator(BillingPeriods):
    def __init__(self, config: Config) -> None:
        self.config = config
        self.accounts = {account.client_id: account for account in config.accounts}
        self.lock = threading.RLock()
        self.store = Persistence(config.state)
        self.settings = Settings(config.provisioning_delay, config.token_ttl, config.omit_fields)
        fresh = not self.store.load("kv")
        self._load()
        # A restarted simulator keeps the clock its state file recorded.
        if config.clock_ms is not None and fresh:
            self.set_clock_offset(config.clock_ms - int(time.time() * 1000))
        self._ensure_configured_domains()

    # -- loading, reset, clock -------------------------------------------------------------

    def _load(self) -> None:
        self.domains: dict[str, dict] = self.store.load("domains")  # type: ignore[assignment]
        self.filespaces: dict[str, dict] = self.store.load("filespaces")  # type: ignore[assignment]
        self.tokens: dict[str, dict] = self.store.load("tokens")  # type: ignore[assignment]
        kv = self.store.load("kv")
        self.clock_offset_ms = int(kv.get("clock_offset_ms", 0))  # type: ignore[arg-type]
        self.disabled_regions = {tuple(pair) for pair in kv.get("disabled_regions", [])}  # type: ignore[union-attr]
        self.billing_state: dict[str, dict] = {
            key.removeprefix("billing:"): value  # type: ignore[misc]
            for key, value in kv.items()
            if key.startswith("billing:")
        }
        self.live_names = {
            (fs["domain"], fs["name"]): fs["id"]
            for fs in self.filespaces.values()
            if fs["deleted_ms"] is None
        }

    def _ensure_configured_domains(self) -> None:
        for client_id in self.accounts:
            # A billing period starts when the account is first seen, before any clock jump.
            self._account_billing(client_id)
        for account in self.config.accounts:
            if account.domain_name is None or self._domain_of(account.client_id):
                continue
            if any(d["name"] == account.domain_name for d in self.domains.values()):
                print(
                    f"lucidsim: domain {account.domain_name!r} belongs to another account; "
                    f"{account.client_id} starts without one",
                    file=sys.stderr,
                )
                continue
            self._insert_domain(account.client_id, account.domain_name)

    def reset(self, now_ms: int | None = None) -> None:
        """Empty every table; with ``now_ms`` the fresh state's clock starts at that instant."""
        with self.lock:
            self.store.clear()
            self.settings = Settings(
                self.config.provisioning_delay, self.config.token_ttl, self.config.omit_fields
            )
            self._load()
            if now_ms is not None:
                self.set_clock_offset(now_ms - int(time.time() * 1000))
            self._ensure_configured_domains()

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    def set_clock_offset(self, offset_ms: int) -> None:
        with self.lock:
            self.clock_offset_ms = offset_ms
            self.store.put("kv", "clock_offset_ms", offset_ms)

    def advance_clock(self, seconds: float) -> int:
        with self.lock:
            self.clock_offset_ms += int(seconds * 1000)
            self.store.put("kv", "clock_offset_ms", self.clock_offset_ms)
            now = self.now_ms()
            for client_id in self.accounts:
                self._roll_periods(client_id, now)
            return now

    def set_settings(
        self,
        provisioning_delay: float | None,
        token_ttl: int | None,
        omit_fields: tuple[str, ...] | None = None,
    ) -> None:
        with self.lock:
            if provisioning_delay is not None:
                self.settings.provisioning_delay = provisioning_delay
            if token_ttl is not None:
                self.settings.token_ttl = token_ttl
            if omit_fields is not None:
                self.settings.omit_fields = omit_fields

    def answer(self, view: dict) -> dict:
        """A filespace as the Service API answers it: without the fields configured to omit."""
        omit = self.settings.omit_fields
        return without_fields(view, omit) if omit else view

    # -- tokens ----------------------------------------------------------------------------

    def check_client(self, client_id: str, secret: str) -> bool:
        account = self.accounts.get(client_id)
        expected = account.client_secret if account else secrets.token_hex(16)
        ok = hmac.compare_digest(expected.encode(), secret.encode())
        return account is not None and ok

    def issue_token(self, client_id: str) -> tuple[str, int]:
        token = secrets.token_urlsafe(32)
        ttl = self.settings.token_ttl
        record = {"client_id": client_id, "expires_at": time.time() + ttl, "revoked": False}
        with self.lock:
            if len(self.tokens) >= TOKEN_PURGE_AT:
                self._purge_tokens()
            self.tokens[_token_key(token)] = record
            self.store.put("tokens", _token_key(token), record)
        return token, ttl

    def _purge_tokens(self) -> None:
        """Forget tokens that stopped working over an hour ago, so the table stays small."""
        cutoff = time.time() - 3600
        for key, record in list(self.tokens.items()):
            if record["revoked"] or record["expires_at"] < cutoff:
                del self.tokens[key]
                self.store.delete("tokens", key)

    def client_for_token(self, token: str) -> str | None:
        record = self.tokens.get(_token_key(token))
        if record is None or record["revoked"] or record["expires_at"] <= time.time():
            return None
        return record["client_id"]

    def end_tokens(self, *, revoke: bool) -> int:
        with self.lock:
            for key, record in self.tokens.items():
                if revoke:
                    record["revoked"] = True
                else:
                    record["expires_at"] = min(record["expires_at"], time.time() - 1)
                self.store.put("tokens", key, record)
            return len(self.tokens)

    # -- domains ---------------------------------------------------------------------------

    def _domain_of(self, client_id: str) -> dict | None:
        return next((d for d in self.domains.values() if d["client_id"] == client_id), None)

    def _insert_domain(self, client_id: str, name: str) -> dict:
        domain = {"id": str(uuid.uuid4()), "name": name, "client_id": client_id}
        self.domains[domain["id"]] = domain
        self.store.put("domains", domain["id"], domain)
        return domain

    @staticmethod
    def domain_view(domain: dict) -> dict:
        return {"id": domain["id"], "name": domain["name"]}

    def _owned_domain(self, client_id: str, domain_id: str) -> dict:
        if not validation.is_id(domain_id):
            raise ApiError(400, errors.INVALID_DOMAIN_ID, "the id is not a UUID")
        domain = self.domains.get(domain_id)
        if domain is None or domain["client_id"] != client_id:
            raise ApiError(404, errors.DOMAIN_NOT_FOUND)
        return domain

    def _domain_has_filespaces(self, domain_id: str) -> bool:
        return any(key[0] == domain_id for key in self.live_names)

    def create_domain(self, client_id: str, body: object) -> dict:
        try:
            name = validation.domain_name(body)
        except validation.Invalid as exc:
            raise ApiError(400, errors.INVALID_DOMAIN_NAME, exc.reason) from None
        with self.lock:
            if self._domain_of(client_id):
                raise ApiError(409, errors.ACCOUNT_HAS_DOMAIN, "one domain per account")
            if any(d["name"] == name for d in self.domains.values()):
                raise ApiError(409, errors.DOMAIN_NAME_TAKEN, "domains are globally unique")
            return self.domain_view(self._insert_domain(client_id, name))

    def list_domains(self, client_id: str) -> list[dict]:
        with self.lock:
            return [
                self.domain_view(d) for d in self.domains.values() if d["client_id"] == client_id
            ]

    def get_domain(self, client_id: str, domain_id: str) -> dict:
        with self.lock:
            return self.domain_view(self._owned_domain(client_id, domain_id))

    def update_domain(self, client_id: str, domain_id: str, body: object) -> dict:
        with self.lock:
            domain = self._owned_domain(client_id, domain_id)
            try:
                name = validation.domain_name(body)
            except validation.Invalid as exc:
                raise ApiError(400, errors.INVALID_DOMAIN_NAME, exc.reason) from None
            if self._domain_has_filespaces(domain_id):
                raise ApiError(409, errors.DOMAIN_HAS_FILESPACES)
            if any(d["name"] == name and d["id"] != domain_id for d in self.domains.values()):
                raise ApiError(409, errors.DOMAIN_NAME_TAKEN, "domains are globally unique")
            domain["name"] = name
            self.store.put("domains", domain_id, domain)
            return self.domain_view(domain)

    def delete_domain(self, client_id: str, domain_id: str) -> None:
        with self.lock:
            self._owned_domain(client_id, domain_id)
            if self._domain_has_filespaces(domain_id):
                raise ApiError(409, errors.DOMAIN_HAS_FILESPACES)
            del self.domains[domain_id]
            self.store.delete("domains", domain_id)

    # -- filespaces ------------------------------------------------------------------------

    def save_filespace(self, fs: dict) -> None:
        self.store.put("filespaces", fs["id"], fs)

    def _refresh(self, fs: dict, now: int) -> None:
        """Apply the provisioning delay lazily: the first look after it has passed flips it."""
        ready = fs["ready_ms"]
        if fs["status"] == "provisioning" and ready is not None and now >= ready:
            fs["status"] = "provisioned"
            fs["origin_ms"] = ready
            fs["ready_ms"] = None
            self.save_filespace(fs)

    def qualified_name(self, fs: dict) -> str:
        return f"{fs['name']}.{fs['domain_name']}"

    def stats_at(self, fs: dict, at_ms: int) -> dict[str, int]:
        if fs["deleted_ms"] is not None:
            at_ms = min(at_ms, fs["deleted_ms"])
        origin = fs["origin_ms"]
        if origin is None or at_ms < origin:
            model = stats.zero_stats()
        else:
            profile = stats.profile_for(self.config.seed, self.qualified_name(fs))
            model = stats.model_stats(profile, at_ms - origin)
        return stats.apply_offsets(model, fs["stat_offsets"])

    def filespace_view(self, fs: dict, now: int) -> dict:
        return {
            "id": fs["id"],
            "domain": fs["domain"],
            "name": fs["name"],
            "version": fs["version"],
            "status": fs["status"],
            "subscriptionType": fs["subscriptionType"],
            "usersCount": len(fs["users"]),
            "storage": dict(fs["storage"]),
            "stats": self.stats_at(fs, now),
        }

    def find_live(self, client_id: str | None, filespace_id: str) -> dict:
        """The caller's live filespace by id (any account's if ``client_id`` is None)."""
        if not validation.is_id(filespace_id):
            raise ApiError(400, errors.INVALID_FILESPACE_ID, "the id is not a UUID")
        fs = self.filespaces.get(filespace_id)
        if fs is None or fs["deleted_ms"] is not None:
            raise ApiError(404, errors.FILESPACE_NOT_FOUND)
        if client_id is not None and fs["client_id"] != client_id:
            raise ApiError(404, errors.FILESPACE_NOT_FOUND)
        self._refresh(fs, self.now_ms())
        return fs

    def find_qualified(self, qualified: str) -> dict | None:
        name, _, domain_name = qualified.partition(".")
        domain = next((d for d in self.domains.values() if d["name"] == domain_name), None)
        if domain is None:
            return None
        fs_id = self.live_names.get((domain["id"], name))
        if fs_id is None:
            return None
        fs = self.filespaces[fs_id]
        self._refresh(fs, self.now_ms())
        return fs

    def create_filespace(self, client_id: str, body: object) -> dict:
        try:
            clean = validation.filespace_create(body)
        except validation.Invalid as exc:
            raise ApiError(400, errors.INVALID_FILESPACE, exc.reason) from None
        with self.lock:
            domain = self.domains.get(clean["domain"])
            if domain is None or domain["client_id"] != client_id:
                raise ApiError(400, errors.INVALID_FILESPACE, "domain is not this account's domain")
            if (domain["id"], clean["name"]) in self.live_names:
                raise ApiError(409, errors.FILESPACE_EXISTS)
            storage = clean["storage"]
            if (storage["provider"], storage["region"]) in self.disabled_regions:
                raise ApiError(422, errors.REGION_DISABLED)
            now = self.now_ms()
            fs = {
                **clean,
                "id": str(uuid.uuid4()),
                "client_id": client_id,
                "domain_name": domain["name"],
                "status": "provisioning",
                "created_ms": now,
                "ready_ms": now + int(self.settings.provisioning_delay * 1000),
                "origin_ms": None,
                "deleted_ms": None,
                "stat_offsets": {},
                "users": {},
                "users_history": [[now, 0]],
                "root_password": None,
                "block_size": None,
                "snapshots": [],
                "next_snapshot_id": 1,
                "schedules": {},
            }
            self.filespaces[fs["id"]] = fs
            self.live_names[(domain["id"], fs["name"])] = fs["id"]
            self.save_filespace(fs)
            # The vendor answers the create with status provisioning even when it is quick.
            view = self.filespace_view(fs, now)
            self._refresh(fs, now)
            return view

    def list_filespaces(self, client_id: str, qualified: str | None) -> list[dict]:
        with self.lock:
            now = self.now_ms()
            if qualified is not None:
                fs = self.find_qualified(qualified)
                found = [fs] if fs is not None and fs["client_id"] == client_id else []
            else:
                found = [
                    self.filespaces[fs_id]
                    for fs_id in self.live_names.values()
                    if self.filespaces[fs_id]["client_id"] == client_id
                ]
            for fs in found:
                self._refresh(fs, now)
            return [self.filespace_view(fs, now) for fs in found]

    def get_filespace(self, client_id: str, filespace_id: str) -> dict:
        with self.lock:
            return self.filespace_view(self.find_live(client_id, filespace_id), self.now_ms())

    def delete_filespace(self, client_id: str, filespace_id: str) -> None:
        with self.lock:
            fs = self.find_live(client_id, filespace_id)
            if fs["status"] == "provisioning":
                raise ApiError(409, errors.DELETE_WHILE_PROVISIONING)
            fs["deleted_ms"] = self.now_ms()
            self.live_names.pop((fs["domain"], fs["name"]), None)
            self.save_filespace(fs)

    def set_status(self, filespace_id: str, status: str) -> dict:
        with self.lock:
            fs = self.find_live(None, filespace_id)
            now = self.now_ms()
            fs["status"] = status
            # A forced provisioning stays until changed; the delay applies to creates only.
            fs["ready_ms"] = None
            if status != "provisioning" and fs["origin_ms"] is None:
                fs["origin_ms"] = now
            self.save_filespace(fs)
            return self.filespace_view(fs, now)

    def set_stats(self, filespace_id: str, values: dict[str, int]) -> dict:
        with self.lock:
            fs = self.find_live(None, filespace_id)
            now = self.now_ms()
            if fs["origin_ms"] is None:
                fs["origin_ms"] = now
            base = self.stats_at({**fs, "stat_offsets": {}}, now)
            for name, value in values.items():
                fs["stat_offsets"][name] = value - base[name]
            self.save_filespace(fs)
            return self.filespace_view(fs, now)

    def record_users(self, fs: dict) -> None:
        fs["users_history"].append([self.now_ms(), len(fs["users"])])

    def set_region(self, provider: str, region: str, *, disabled: bool) -> None:
        with self.lock:
            if disabled:
                self.disabled_regions.add((provider, region))
            else:
                self.disabled_regions.discard((provider, region))
            self.store.put("kv", "disabled_regions", sorted(self.disabled_regions))
