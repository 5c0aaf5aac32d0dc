"""The Service API's answers as small frozen dataclasses, parsed and checked at the edge.

Reference: service-api.swagger.json, definitions Domain, Filespace, FilespaceStorage,
FilespaceStats, BillingPeriod, FilespaceLineItemWithForecast and FilespaceUsage.

Only what the Swagger marks required is required: a Domain needs `name`; a Filespace needs
`domain`, `name` and `storage`; its FilespaceStorage needs `provider`; its FilespaceStats needs
`filespaceSize`. Every other field may be absent from a real answer (the vendor's own 201 sample
has no `bucket`, `version` or `subscriptionType`) and is parsed as None, typed Optional: an
unknown, never a default that looks like a real value. Consumers treat None as "LucidLink did not
say", never as a different value.

Every parser raises `MalformedResponse` (never KeyError or TypeError) only when a required field
is missing or any field has the wrong type, so a broken answer becomes a retryable, logged
failure instead of a crash deep inside a service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .errors import MalformedResponse


@dataclass(frozen=True)
class Domain:
    id: str | None  # optional in the Swagger; a domain without one cannot be used for a create
    name: str


@dataclass(frozen=True)
class FilespaceStorage:
    provider: str
    owner: str | None = None
    region: str | None = None
    endpoint: str | None = None
    bucket: str | None = None


@dataclass(frozen=True)
class FilespaceStats:
    """Bytes and counters; the counters are cumulative since the filespace was created.

    Only `filespace_size` is required; None is a figure LucidLink did not report.
    """

    filespace_size: int
    used_storage: int | None = None
    get_request_count: int | None = None
    get_data_size: int | None = None
    put_request_count: int | None = None
    put_data_size: int | None = None
    list_request_count: int | None = None
    delete_request_count: int | None = None

    def missing(self, *fields: str) -> list[str]:
        """The names of the given figures LucidLink left out of this answer."""
        return [field for field in fields if getattr(self, field) is None]


@dataclass(frozen=True)
class RemoteFilespace:
    """One filespace as LucidLink answered it; None is always "not said", never a value."""

    domain_id: str
    name: str
    storage: FilespaceStorage
    id: str | None = None
    status: str | None = None
    subscription_type: str | None = None
    version: int | None = None
    users_count: int | None = None
    stats: FilespaceStats | None = None


@dataclass(frozen=True)
class FilespaceUsage:
    """One billed dimension of a line item: `ManagedCapacity` or `FilespaceUsers`."""

    dimension: str
    usage: Decimal


@dataclass(frozen=True)
class FilespaceLineItem:
    """One filespace in the current period's breakdown; amounts are integer cents."""

    filespace_id: str
    name: str
    amount_due: int
    amount_due_forecast: int | None
    is_deleted: bool
    storage_owner: str
    storage_provider: str | None
    subscription_type: str | None
    usage: tuple[FilespaceUsage, ...]

    def usage_of(self, dimension: str) -> Decimal | None:
        """The usage for one dimension, or None when the line does not bill it."""
        for item in self.usage:
            if item.dimension == dimension:
                return item.usage
        return None

    @property
    def managed_capacity(self) -> Decimal | None:
        return self.usage_of("ManagedCapacity")

    @property
    def filespace_users(self) -> Decimal | None:
        return self.usage_of("FilespaceUsers")


@dataclass(frozen=True)
class BillingPeriod:
    """What LucidLink bills the MSP for the current period; amounts are integer cents."""

    start: datetime
    end: datetime
    subscription_status: str
    amount_due: int
    amount_due_forecast: int
    currency: str
    trial_days: int | None
    filespaces: tuple[FilespaceLineItem, ...]


# Field readers. `where` names the schema so the error says which answer was wrong.


def _value(data: dict[str, Any], key: str, where: str, required: bool) -> Any:
    value = data.get(key)
    if value is None and required:
        raise MalformedResponse(f"LucidLink {where} has no '{key}'.")
    return value


def _wrong(where: str, key: str, expected: str, value: Any) -> MalformedResponse:
    return MalformedResponse(
        f"LucidLink {where} field '{key}' should be {expected}, not {type(value).__name__}."
    )


def _str(data: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = _value(data, key, where, required)
    if value is not None and not isinstance(value, str):
        raise _wrong(where, key, "a string", value)
    return value


def _id(data: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    """An opaque id: any non-empty string (an empty one would address the collection)."""
    value = _str(data, key, where, required=required)
    if value is not None and not value:
        raise MalformedResponse(f"LucidLink {where} field '{key}' is empty.")
    return value


def _int(data: dict[str, Any], key: str, where: str, *, required: bool = True) -> int | None:
    """A JSON number that is a whole number (Swagger says `number`, so 3.0 is accepted)."""
    value = _value(data, key, where, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(where, key, "a whole number", value)
    if isinstance(value, float) and not value.is_integer():
        raise MalformedResponse(f"LucidLink {where} field '{key}' is not a whole number.")
    return int(value)


def _decimal(data: dict[str, Any], key: str, where: str) -> Decimal:
    value = _value(data, key, where, True)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(where, key, "a number", value)
    result = Decimal(str(value))
    if not result.is_finite():
        raise MalformedResponse(f"LucidLink {where} field '{key}' is not a finite number.")
    return result


def _bool(data: dict[str, Any], key: str, where: str) -> bool:
    value = _value(data, key, where, True)
    if not isinstance(value, bool):
        raise _wrong(where, key, "true or false", value)
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedResponse(f"LucidLink {where} should be a JSON object.")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedResponse(f"LucidLink {where} should be a JSON array.")
    return value


def _millis(data: dict[str, Any], key: str, where: str) -> datetime:
    millis = _int(data, key, where)
    try:
        return datetime.fromtimestamp(millis / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedResponse(f"LucidLink {where} field '{key}' is not a time.") from None


# Parsers, one per schema.


def parse_domain(value: Any) -> Domain:
    data = _object(value, "Domain")
    return Domain(id=_id(data, "id", "Domain", required=False), name=_str(data, "name", "Domain"))


def parse_storage(value: Any) -> FilespaceStorage:
    data = _object(value, "FilespaceStorage")
    where = "FilespaceStorage"
    return FilespaceStorage(
        provider=_str(data, "provider", where),
        owner=_str(data, "owner", where, required=False),
        region=_str(data, "region", where, required=False),
        endpoint=_str(data, "endpoint", where, required=False),
        bucket=_str(data, "bucket", where, required=False),
    )


_STATS_FIELDS = {
    "used_storage": "usedStorage",
    "get_request_count": "getRequestCount",
    "get_data_size": "getDataSize",
    "put_request_count": "putRequestCount",
    "put_data_size": "putDataSize",
    "list_request_count": "listRequestCount",
    "delete_request_count": "deleteRequestCount",
}


def parse_stats(value: Any) -> FilespaceStats:
    """Only `filespaceSize` is required; an absent figure is None, never a zero (that misbills)."""
    data = _object(value, "FilespaceStats")
    where = "FilespaceStats"
    figures = {
        field: _int(data, key, where, required=False) for field, key in _STATS_FIELDS.items()
    }
    return FilespaceStats(filespace_size=_int(data, "filespaceSize", where), **figures)


def parse_filespace(value: Any) -> RemoteFilespace:
    data = _object(value, "Filespace")
    where = "Filespace"
    stats = data.get("stats")
    return RemoteFilespace(
        domain_id=_id(data, "domain", where),
        name=_str(data, "name", where),
        storage=parse_storage(_value(data, "storage", where, True)),
        id=_id(data, "id", where, required=False),
        status=_str(data, "status", where, required=False),
        subscription_type=_str(data, "subscriptionType", where, required=False),
        version=_int(data, "version", where, required=False),
        users_count=_int(data, "usersCount", where, required=False),
        stats=None if stats is None else parse_stats(stats),
    )


def parse_usage(value: Any) -> FilespaceUsage:
    data = _object(value, "FilespaceUsage")
    return FilespaceUsage(
        dimension=_str(data, "dimension", "FilespaceUsage"),
        usage=_decimal(data, "usage", "FilespaceUsage"),
    )


def parse_line_item(value: Any) -> FilespaceLineItem:
    data = _object(value, "FilespaceLineItem")
    where = "FilespaceLineItem"
    usage = _list(_value(data, "usageByDimension", where, True), f"{where}.usageByDimension")
    return FilespaceLineItem(
        filespace_id=_id(data, "filespace", where),
        name=_str(data, "name", where),
        amount_due=_int(data, "amountDue", where),
        amount_due_forecast=_int(data, "amountDueForecast", where, required=False),
        is_deleted=_bool(data, "isDeleted", where),
        storage_owner=_str(data, "storageOwner", where),
        storage_provider=_str(data, "storageProvider", where, required=False),
        subscription_type=_str(data, "subscriptionType", where, required=False),
        usage=tuple(parse_usage(item) for item in usage),
    )


def parse_billing_period(value: Any) -> BillingPeriod:
    data = _object(value, "BillingPeriod")
    where = "BillingPeriod"
    breakdown = data.get("filespaceBreakdown")
    items = [] if breakdown is None else _list(breakdown, f"{where}.filespaceBreakdown")
    return BillingPeriod(
        start=_millis(data, "start", where),
        end=_millis(data, "end", where),
        subscription_status=_str(data, "subscriptionStatus", where),
        amount_due=_int(data, "amountDue", where),
        amount_due_forecast=_int(data, "amountDueForecast", where),
        currency=_str(data, "currency", where),
        trial_days=_int(data, "trialDays", where, required=False),
        filespaces=tuple(parse_line_item(item) for item in items),
    )


def parse_list(value: Any, parse, where: str) -> list:
    """A plain JSON array of one schema (the API has no pagination)."""
    return [parse(item) for item in _list(value, where)]
