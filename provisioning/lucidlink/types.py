"""The Service API's answers as small frozen dataclasses, parsed and checked at the edge.

Reference: service-api.swagger.json, definitions Domain, Filespace, FilespaceStorage,
FilespaceStats, BillingPeriod, FilespaceLineItemWithForecast and FilespaceUsage.

Every parser raises `MalformedResponse` (never KeyError or TypeError) when a field it needs is
missing or has the wrong type, so a changed or broken answer becomes a retryable, logged failure
instead of a crash deep inside a service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .errors import MalformedResponse


@dataclass(frozen=True)
class Domain:
    id: str
    name: str


@dataclass(frozen=True)
class FilespaceStorage:
    owner: str
    provider: str
    region: str
    endpoint: str | None
    bucket: str | None


@dataclass(frozen=True)
class FilespaceStats:
    """Bytes and counters; the counters are cumulative since the filespace was created."""

    used_storage: int
    filespace_size: int
    get_request_count: int
    get_data_size: int
    put_request_count: int
    put_data_size: int
    list_request_count: int
    delete_request_count: int


@dataclass(frozen=True)
class RemoteFilespace:
    id: str
    domain_id: str
    name: str
    status: str
    subscription_type: str | None
    version: int | None
    users_count: int
    storage: FilespaceStorage | None
    stats: FilespaceStats | None


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


def _id(data: dict[str, Any], key: str, where: str) -> str:
    """An opaque id: any non-empty string (an empty one would address the collection)."""
    value = _str(data, key, where)
    if not value:
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
    return Domain(id=_id(data, "id", "Domain"), name=_str(data, "name", "Domain"))


def parse_storage(value: Any) -> FilespaceStorage:
    data = _object(value, "FilespaceStorage")
    where = "FilespaceStorage"
    return FilespaceStorage(
        owner=_str(data, "owner", where),
        provider=_str(data, "provider", where),
        region=_str(data, "region", where),
        endpoint=_str(data, "endpoint", where, required=False),
        bucket=_str(data, "bucket", where, required=False),
    )


_STATS_FIELDS = {
    "used_storage": "usedStorage",
    "filespace_size": "filespaceSize",
    "get_request_count": "getRequestCount",
    "get_data_size": "getDataSize",
    "put_request_count": "putRequestCount",
    "put_data_size": "putDataSize",
    "list_request_count": "listRequestCount",
    "delete_request_count": "deleteRequestCount",
}


def parse_stats(value: Any) -> FilespaceStats:
    """All eight figures are required: a silently zeroed cumulative counter would misbill."""
    data = _object(value, "FilespaceStats")
    figures = {field: _int(data, key, "FilespaceStats") for field, key in _STATS_FIELDS.items()}
    return FilespaceStats(**figures)


def parse_filespace(value: Any) -> RemoteFilespace:
    data = _object(value, "Filespace")
    where = "Filespace"
    storage = data.get("storage")
    stats = data.get("stats")
    return RemoteFilespace(
        id=_id(data, "id", where),
        domain_id=_id(data, "domain", where),
        name=_str(data, "name", where),
        status=_str(data, "status", where),
        subscription_type=_str(data, "subscriptionType", where, required=False),
        version=_int(data, "version", where, required=False),
        users_count=_int(data, "usersCount", where, required=False) or 0,
        storage=None if storage is None else parse_storage(storage),
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
