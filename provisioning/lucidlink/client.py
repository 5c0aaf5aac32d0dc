"""The LucidLink Service API v1 client: OAuth2 client credentials, typed errors, parsed answers.

Reference: docs/lucidlink-contract.md section 1 (Service API) and section 4 (client notes),
and lucidsim/service-api.swagger.json. One token per (token URL, client id) is shared by every
client in the process, fetched again when it expires or when the API answers 401 (at most once
per call).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import threading
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error, TokenExpiredError
from requests_oauthlib import OAuth2Session

from portal.observability import metrics

from . import redaction
from .errors import (
    AuthenticationFailed,
    Conflict,
    LucidLinkError,
    MalformedResponse,
    NotFound,
    Rejected,
    Unavailable,
    Unprocessable,
)
from .types import (
    BillingPeriod,
    Domain,
    RemoteFilespace,
    parse_billing_period,
    parse_domain,
    parse_filespace,
    parse_list,
)

log = logging.getLogger("provisioning.lucidlink")
redaction.install()

# Tokens shared by all clients of this process, keyed by (token URL, client id).
_TOKENS: dict[tuple[str, str], dict[str, Any]] = {}
_TOKENS_LOCK = threading.Lock()
# A token this close to its expiry is replaced before use rather than sent and refused.
_EXPIRY_MARGIN_SECONDS = 5
_REJECTIONS: dict[int, type[Rejected]] = {404: NotFound, 409: Conflict, 422: Unprocessable}


def forget_tokens() -> None:
    """Drop every cached access token (tests, and after rotating credentials)."""
    with _TOKENS_LOCK:
        _TOKENS.clear()


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delay-seconds or an HTTP date), or None.

    Reference: RFC 9110 section 10.2.3. A date in the past means "now" (0); anything
    unreadable means the header is ignored.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allows_plain_http(api_url: str, token_url: str) -> bool:
    """True when plain http must be allowed (both URLs loopback); raise for unsafe settings.

    Plain http is only acceptable for the local simulator: a real deployment sends the client
    secret and bearer tokens, which must never cross a network unencrypted.
    """
    urls = (api_url, token_url)
    schemes = {urlsplit(url).scheme for url in urls}
    if not schemes <= {"http", "https"}:
        raise ValueError("LucidLink URLs must start with https:// (or http:// for loopback).")
    if "http" not in schemes:
        return False
    if not all(_is_loopback(url) for url in urls):
        raise ValueError(
            "LucidLink URLs must use https://; plain http:// is allowed only when both the API "
            "and the token URL point at a loopback address (the local simulator)."
        )
    return True


def _is_fresh(token: dict[str, Any]) -> bool:
    expires_at = token.get("expires_at")
    if expires_at is None:
        return True
    # The margin shrinks for short-lived tokens so each one still serves several calls.
    margin = min(_EXPIRY_MARGIN_SECONDS, float(token.get("expires_in") or 0) / 10)
    return float(expires_at) - margin > time.time()


def _api_message(response: requests.Response) -> str:
    """The API's `message` from an error body, or the status line when there is none."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"].strip():
        return body["message"].strip()[:500]
    return f"HTTP {response.status_code} {response.reason or ''}".strip()


def _raise_for_status(response: requests.Response, operation: str) -> None:
    """Map a non-2xx answer to the typed error a caller can act on."""
    status = response.status_code
    if 200 <= status < 300:
        return
    message = _api_message(response)
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        text = f"LucidLink answered {status} to {operation}: {message}"
        raise Unavailable(text, retry_after=retry_after, status=status)
    if status < 400:
        text = f"LucidLink answered {operation} with an unexpected {status}."
        raise MalformedResponse(text, status=status)
    raise _REJECTIONS.get(status, Rejected)(message, status=status)


def _check_token_response(response: requests.Response) -> requests.Response:
    """requests-oauthlib compliance hook: type the token endpoint's failures before parsing."""
    status = response.status_code
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        text = f"LucidLink token endpoint answered {status}."
        raise Unavailable(text, retry_after=retry_after, status=status)
    if status in (400, 401, 403):
        error = _oauth_error_code(response)
        text = f"LucidLink refused the API credentials ({error}); check the client id and secret."
        raise AuthenticationFailed(text, status=status)
    if not 200 <= status < 300:
        raise Rejected(f"LucidLink token endpoint answered {status}.", status=status)
    try:
        body = response.json()
    except ValueError:
        body = None
    token = body.get("access_token") if isinstance(body, dict) else None
    token_type = body.get("token_type", "Bearer") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token or str(token_type).lower() != "bearer":
        raise MalformedResponse("LucidLink token endpoint answered without a usable bearer token.")
    return response


def _oauth_error_code(response: requests.Response) -> str:
    """The RFC 6749 `error` code only (never the description, which a server may fill freely)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("error") if isinstance(body, dict) else None
    if isinstance(code, str) and code.replace("_", "").isalnum() and len(code) <= 40:
        return code
    return f"HTTP {response.status_code}"


# Path segments that name a collection or an action; any other segment is an id, so the
# operation label of a metric stays one of a few templates whatever ids the calls carry.
_LITERAL_SEGMENTS = frozenset({"domains", "filespaces", "billing", "current-period"})


def operation_label(method: str, path: str) -> str:
    """`GET /filespaces/{id}` for `GET /filespaces/3f2a...`: a bounded metric label."""
    segments = [
        segment if segment in _LITERAL_SEGMENTS else "{id}"
        for segment in path.split("?", 1)[0].strip("/").split("/")
        if segment
    ]
    return f"{method} /" + "/".join(segments)


def _segment(value: str, what: str) -> str:
    """One URL path segment; an empty id would silently turn a GET of one into a list."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string.")
    return quote(value, safe="")


def _observe(operation: str, status: str, started: float) -> float:
    """Count one Service API exchange and record its duration; return the seconds it took."""
    elapsed = time.monotonic() - started
    metrics.lucidlink_requests.labels(operation, status).inc()
    metrics.lucidlink_request_duration.labels(operation).observe(elapsed)
    return elapsed


class LucidLinkClient:
    """One MSP account's Service API. Not shared between threads: build one per task."""

    def __init__(
        self,
        *,
        api_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        connect_timeout: float = 5,
        read_timeout: float = 30,
    ) -> None:
        if allows_plain_http(api_url, token_url):
            # Loopback only (checked above): requests-oauthlib reads this from the environment.
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        self.api_url = api_url.rstrip("/")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._timeout = (connect_timeout, read_timeout)
        self._token_key = (token_url, client_id)
        self._session = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
        self._session.register_compliance_hook("access_token_response", _check_token_response)

    def __repr__(self) -> str:
        return f"<LucidLinkClient api_url={self.api_url!r} client_id={self.client_id!r}>"

    # Domains

    def list_domains(self) -> list[Domain]:
        # Reference: README section 1, operationId getDomains (GET /domains).
        return parse_list(self._json("GET", "/domains"), parse_domain, "domain list")

    def create_domain(self, name: str) -> Domain:
        # Reference: README section 1, operationId createDomain (POST /domains); one per account.
        return parse_domain(self._json("POST", "/domains", body={"name": name}))

    def get_domain(self, domain_id: str) -> Domain:
        # Reference: README section 1, operationId getDomain (GET /domains/{id}).
        path = f"/domains/{_segment(domain_id, 'domain_id')}"
        return parse_domain(self._json("GET", path))

    # Filespaces

    def list_filespaces(self) -> list[RemoteFilespace]:
        # Reference: README section 1, operationId getFilespaces (GET /filespaces).
        return parse_list(self._json("GET", "/filespaces"), parse_filespace, "filespace list")

    def find_filespace(self, qualified_name: str) -> RemoteFilespace | None:
        """The filespace named `<filespace>.<domain>`, or None; the check before any create."""
        # Reference: README section 1, operationId getFilespaces with ?qualifiedName=.
        params = {"qualifiedName": qualified_name}
        answer = self._json("GET", "/filespaces", params=params)
        found = parse_list(answer, parse_filespace, "filespace list")
        # Matching the name again guards against a server that ignores the filter: adopting
        # the wrong filespace would be far worse than creating nothing.
        name = qualified_name.split(".", 1)[0]
        matches = [filespace for filespace in found if filespace.name == name]
        if len(matches) > 1:
            raise MalformedResponse(f"LucidLink returned {len(matches)} filespaces named {name}.")
        return matches[0] if matches else None

    def get_filespace(self, filespace_id: str) -> RemoteFilespace:
        # Reference: README section 1, operationId getFilespace (GET /filespaces/{id}).
        path = f"/filespaces/{_segment(filespace_id, 'filespace_id')}"
        return parse_filespace(self._json("GET", path))

    def create_filespace(
        self,
        *,
        domain_id: str,
        name: str,
        subscription_type: str,
        owner: str,
        provider: str,
        region: str,
        endpoint: str | None = None,
        bucket: str | None = None,
        version: int = 3,
    ) -> RemoteFilespace:
        """POST once, never retried here: the API has no idempotency key (see find_filespace)."""
        # Reference: README section 1 "Create body", operationId createFilespace.
        storage = {"owner": owner, "provider": provider, "region": region}
        if endpoint is not None:
            storage["endpoint"] = endpoint
        if bucket is not None:
            storage["bucket"] = bucket
        body = {
            "domain": domain_id,
            "name": name,
            "version": version,
            "subscriptionType": subscription_type,
            "storage": storage,
        }
        return parse_filespace(self._json("POST", "/filespaces", body=body))

    def delete_filespace(self, filespace_id: str) -> None:
        # Reference: README section 1, operationId deleteFilespace (204; 404 raises NotFound).
        self._call("DELETE", f"/filespaces/{_segment(filespace_id, 'filespace_id')}")

    # Billing

    def current_billing_period(self) -> BillingPeriod:
        # Reference: README section 1 "Usage and billing data", operationId getCurrentPeriod.
        return parse_billing_period(self._json("GET", "/billing/current-period"))

    # Health

    def use_timeouts(self, connect: float, read: float) -> None:
        """Shorter (connect, read) timeouts for a caller that must answer quickly (a probe)."""
        self._timeout = (connect, read)

    def check_access(self) -> None:
        """Fetch a new token now, then make one authenticated call; raise the typed error.

        For health checks: a token cached earlier would hide credentials revoked since, so the
        token endpoint is always asked, and `GET /domains` proves the API itself answers.
        """
        with _TOKENS_LOCK:
            _TOKENS[self._token_key] = self._request_token()
        self.list_domains()

    # Plumbing

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._call(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            text = f"LucidLink answered {method} {path} with a body that is not JSON."
            raise MalformedResponse(text, status=response.status_code) from None

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send with the cached token; on 401 (or expiry) fetch one new token and send again."""
        operation = f"{method} {path}"
        token = self._token()
        response = self._send(method, path, token, **kwargs)
        if response is None or response.status_code == 401:
            log.info("LucidLink refused the access token for %s; fetching a new one.", operation)
            token = self._fetch_token(stale=token)
            response = self._send(method, path, token, **kwargs)
            if response is None or response.status_code == 401:
                message = _api_message(response) if response is not None else "token expired"
                text = f"LucidLink refused a fresh access token for {operation}: {message}"
                raise AuthenticationFailed(text, status=401)
        _raise_for_status(response, operation)
        return response

    def _send(
        self,
        method: str,
        path: str,
        token: dict[str, Any],
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
    ) -> requests.Response | None:
        """One HTTP exchange; None when the token expired before it could be sent."""
        self._session.token = token
        operation = operation_label(method, path)
        started = time.monotonic()
        try:
            response = self._session.request(
                method,
                self.api_url + path,
                params=params,
                json=body,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
            )
        except TokenExpiredError:
            return None
        except requests.Timeout:
            _observe(operation, "timeout", started)
            raise Unavailable(f"LucidLink timed out on {method} {path}.") from None
        except requests.RequestException as exc:
            _observe(operation, "unreachable", started)
            text = f"LucidLink is unreachable for {method} {path} ({type(exc).__name__})."
            raise Unavailable(text) from None
        elapsed = _observe(operation, str(response.status_code), started)
        log.debug(
            "LucidLink %s %s -> %s in %.0f ms", method, path, response.status_code, elapsed * 1000
        )
        return response

    def _token(self) -> dict[str, Any]:
        with _TOKENS_LOCK:
            current = _TOKENS.get(self._token_key)
        if current is not None and _is_fresh(current):
            return current
        return self._fetch_token(stale=current)

    def _fetch_token(self, *, stale: dict[str, Any] | None) -> dict[str, Any]:
        """A new token, unless another caller already replaced the stale one meanwhile."""
        with _TOKENS_LOCK:
            current = _TOKENS.get(self._token_key)
            if current is not None and current is not stale and _is_fresh(current):
                return current
            _TOKENS.pop(self._token_key, None)
            token = self._request_token()
            _TOKENS[self._token_key] = token
            return token

    def _request_token(self) -> dict[str, Any]:
        # Reference: README section 1 "Token" and section 4: client credentials sent as HTTP
        # Basic (what fetch_token does for a BackendApplicationClient given client_secret).
        asked_at = time.time()
        try:
            token = self._session.fetch_token(
                self.token_url, client_secret=self._client_secret, timeout=self._timeout
            )
        except AuthenticationFailed:
            metrics.lucidlink_token_fetches.labels("refused").inc()
            raise
        except Unavailable:
            metrics.lucidlink_token_fetches.labels("unavailable").inc()
            raise
        except LucidLinkError:
            metrics.lucidlink_token_fetches.labels("malformed").inc()
            raise
        except requests.Timeout:
            metrics.lucidlink_token_fetches.labels("unavailable").inc()
            raise Unavailable("LucidLink token endpoint timed out.") from None
        except requests.RequestException as exc:
            metrics.lucidlink_token_fetches.labels("unavailable").inc()
            text = f"LucidLink token endpoint is unreachable ({type(exc).__name__})."
            raise Unavailable(text) from None
        except (OAuth2Error, ValueError, TypeError, Warning):
            metrics.lucidlink_token_fetches.labels("malformed").inc()
            text = "LucidLink token endpoint answered something that is not a usable token."
            raise MalformedResponse(text) from None
        metrics.lucidlink_token_fetches.labels("ok").inc()
        log.info("Fetched a LucidLink access token for client %s.", self.client_id)
        token = dict(token)
        if token.get("expires_in"):
            # oauthlib rounds the issue time to the second, which can put expires_at up to half
            # a second after the server's; counting from the moment of asking never does.
            token["expires_at"] = asked_at + float(token["expires_in"])
        return token
