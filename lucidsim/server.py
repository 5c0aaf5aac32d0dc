"""HTTP front: routing, OAuth2 token endpoint, auth, faults and ledger around every API call."""

from __future__ import annotations

import base64
import contextlib
import json
import signal
import socket
import sqlite3
import sys
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from lucidsim import api
from lucidsim.config import Config, ConfigError, load_config
from lucidsim.control import Controls
from lucidsim.errors import ILLEGAL_REQUEST, ApiError
from lucidsim.http import (
    DROPPED,
    Request,
    Response,
    error_response,
    json_response,
    not_routed,
    resolve,
)
from lucidsim.observe import FaultBook, Ledger
from lucidsim.state import Simulator

API_PREFIXES = ("/api/v1", "/v1")
TOKEN_PATH = "/oauth2/token"  # noqa: S105 (a URL path, not a secret)
MAX_BODY = 1_048_576


class App:
    """Everything a request needs, independent of the socket layer."""

    def __init__(self, config: Config) -> None:
        self.sim = Simulator(config)
        self.faults = FaultBook()
        self.ledger = Ledger()
        self.controls = Controls(self.sim, self.faults, self.ledger)

    def handle(self, request: Request) -> Response:
        path = request.path
        if path == TOKEN_PATH:
            return self._observed(
                request, "token", TOKEN_PATH, {}, lambda client: self._token(request, client)
            )
        for prefix in API_PREFIXES:
            if path.startswith(prefix + "/"):
                return self._api(request, path[len(prefix) :])
        if path.startswith("/_sim/"):
            return self._control(request)
        return json_response(404, {"status": 404, "message": "Not found."})

    # -- the vendor API --------------------------------------------------------------------

    def _api(self, request: Request, relative: str) -> Response:
        route, params, allowed = resolve(api.ROUTES, request.method, relative)
        if route is None:
            return not_routed(allowed)
        params = {key: unquote(value) for key, value in params.items()}

        def run(client_id: str | None) -> Response:
            if client_id is None:
                return json_response(401, {"status": 401, "message": ILLEGAL_REQUEST})
            return route.handler(self.sim, client_id, request, **params)

        return self._observed(request, route.name, relative, params, run)

    def _client_for(self, request: Request) -> str | None:
        raw = request.headers.get("authorization", "").strip()
        scheme, _, rest = raw.partition(" ")
        token = rest.strip() if scheme.lower() == "bearer" else raw
        if not token or " " in token:
            return None
        return self.sim.client_for_token(token)

    def _observed(self, request: Request, operation: str, relative: str, params: dict, run):
        """Apply a matching fault, run the call, and record it in the ledger either way."""
        name = api.filespace_name_for(self.sim, operation, request, params)
        client_id = (
            self._client_for(request) if operation != "token" else self._token_client(request)
        )
        fault = self.faults.take(operation, request.method, relative, request.path)
        response = self._fault(fault) if fault is not None else None
        if response is None:
            try:
                response = run(client_id)
            except ApiError as exc:
                response = error_response(exc)
            if fault is not None and fault.drop_after:
                response = Response(DROPPED)
        self.ledger.record(
            at_ms=self.sim.now_ms(),
            method=request.method,
            path=request.path,
            operation=operation,
            status=response.status,
            filespace_name=name,
            client_id=client_id,
        )
        return response

    def _fault(self, fault) -> Response | None:
        """The answer a fault gives instead of the call, or None to perform the call."""
        if fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        headers = {}
        if fault.retry_after is not None:
            retry = fault.retry_after
            headers["Retry-After"] = str(int(retry) if float(retry).is_integer() else retry)
        if fault.status is not None:
            if fault.body is not None:
                return Response(fault.status, fault.body.encode(), "application/json", headers)
            try:
                phrase = HTTPStatus(fault.status).phrase
            except ValueError:
                phrase = "Injected fault"
            return json_response(fault.status, {"status": fault.status, "message": phrase}, headers)
        if fault.body is not None and not fault.drop_after:
            return Response(200, fault.body.encode(), "application/json", headers)
        return None

    # -- OAuth2 client credentials -----------------------------------------------------------

    def _credentials(self, request: Request) -> tuple[str | None, str | None, bool]:
        """(client id, secret, sent by HTTP Basic) from the header or the form body."""
        raw = request.headers.get("authorization", "")
        scheme, _, value = raw.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError.
                return None, None, True
            client_id, _, secret = decoded.partition(":")
            return unquote(client_id), unquote(secret), True
        form = self._form(request)
        return form.get("client_id"), form.get("client_secret"), False

    @staticmethod
    def _form(request: Request) -> dict[str, str]:
        content_type = request.headers.get("content-type", "")
        try:
            text = request.body.decode()
        except UnicodeDecodeError:
            return {}
        if "json" in content_type:
            try:
                data = json.loads(text)
            except ValueError:
                return {}
            return (
                {k: v for k, v in data.items() if isinstance(v, str)}
                if isinstance(data, dict)
                else {}
            )
        return {key: values[0] for key, values in parse_qs(text).items()}

    def _token_client(self, request: Request) -> str | None:
        client_id, secret, _ = self._credentials(request)
        if client_id and secret is not None and self.sim.check_client(client_id, secret):
            return client_id
        return None

    def _token(self, request: Request, client_id: str | None) -> Response:
        oauth_headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if client_id is None:
            _, _, basic = self._credentials(request)
            headers = dict(oauth_headers)
            if basic:
                headers["WWW-Authenticate"] = 'Basic realm="lucidsim"'
            body = {"error": "invalid_client", "error_description": "Client authentication failed."}
            return json_response(401, body, headers)
        grant = self._form(request).get("grant_type")
        if grant != "client_credentials":
            error = "invalid_request" if grant is None else "unsupported_grant_type"
            body = {"error": error, "error_description": "grant_type must be client_credentials."}
            return json_response(400, body, oauth_headers)
        token, ttl = self.sim.issue_token(client_id)
        body = {"access_token": token, "token_type": "Bearer", "expires_in": ttl}
        return json_response(200, body, oauth_headers)

    # -- control ---------------------------------------------------------------------------

    def _control(self, request: Request) -> Response:
        route, params, allowed = resolve(self.controls.routes, request.method, request.path)
        if route is None:
            return not_routed(allowed, "Unknown control endpoint.")
        try:
            return route.handler(request, **{k: unquote(v) for k, v in params.items()})
        except ApiError as exc:
            return error_response(exc)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lucidsim/1.0"
    # A client that stalls mid-request, or leaves a keep-alive connection idle this long, is
    # dropped so it cannot hold a thread forever.
    timeout = 300
    app: App
    verbose = False

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this a keep-alive client waits
        # for the delayed ACK on every request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        started = time.perf_counter()
        try:
            body = self._read_body()
        except ValueError:
            body = None
        if body is None:
            self.close_connection = True
            response = json_response(
                413, {"status": 413, "message": "Body too large or malformed."}
            )
        else:
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            try:
                response = self.app.handle(request)
            except Exception:
                traceback.print_exc(file=sys.stderr)
                response = json_response(500, {"status": 500, "message": "Internal error."})
        self._send(response)
        if self.verbose:
            elapsed = (time.perf_counter() - started) * 1000
            print(
                f"{self.command} {urlsplit(self.path).path} {response.status} {elapsed:.1f}ms",
                file=sys.stderr,
                flush=True,
            )

    def _send(self, response: Response) -> None:
        if response.status == DROPPED:
            # Close without a byte of answer, as a connection lost after the server acted.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        # A 204 carries no body and so no Content-Length, but the media type is still named:
        # the Swagger file declares application/json for every answer of these operations.
        self.send_header("Content-Type", response.content_type)
        if response.status != 204:
            self.send_header("Content-Length", str(len(response.body)))
        for key, value in response.headers.items():
            self.send_header(key, _header_safe(value))
        if self.request_version == "HTTP/1.0" and not self.close_connection:
            self.send_header("Connection", "keep-alive")
        elif self.close_connection:
            self.send_header("Connection", "close")
        # Head and body leave in one write (what end_headers would do, plus the body).
        self._headers_buffer.append(b"\r\n")
        if response.status != 204 and self.command != "HEAD":
            self._headers_buffer.append(response.body)
        self.flush_headers()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def __getattr__(self, name: str):
        # Any other method (HEAD, TRACE, QUERY, ...) is routed too, so it gets a 405 with Allow
        # in the envelope instead of the standard library's HTML 501 page.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def log_message(self, format: str, *args: object) -> None:
        # Request lines can carry tokens in odd clients; the verbose log above prints paths only.
        return


def _header_safe(value: str) -> str:
    """Header values can quote user input: keep them ASCII and on one line."""
    text = value.encode("ascii", "backslashreplace").decode("ascii")
    return text.replace("\r", "\\r").replace("\n", "\\n")


def make_server(config: Config, app: App | None = None) -> ThreadingHTTPServer:
    app = app or App(config)
    handler = type("BoundHandler", (Handler,), {"app": app, "verbose": config.verbose})
    server = ThreadingHTTPServer((config.host, config.port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    try:
        config = load_config(argv)
    except ConfigError as exc:
        print(f"lucidsim: {exc}", file=sys.stderr)
        return 2
    try:
        app = App(config)
    except (OSError, sqlite3.Error) as exc:
        print(f"lucidsim: cannot use the state file {config.state}: {exc}", file=sys.stderr)
        return 1
    try:
        server = make_server(config, app)
    except OSError as exc:
        print(f"lucidsim: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    # SIGTERM (honcho, the test fixtures) stops the loop like Ctrl-C, so the socket and the
    # state file are closed cleanly.
    signal.signal(signal.SIGTERM, _stop)
    host, port = server.server_address[:2]
    try:
        # Inside the try: a SIGTERM right after this line must still end in a clean stop.
        print(f"lucidsim listening on http://{host}:{port}", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.sim.store.close()
    return 0


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
