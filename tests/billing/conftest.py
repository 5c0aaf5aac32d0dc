"""Billing test helpers: a fake of our LucidLink client seam and fast sample writers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing import rating
from provisioning import lucidlink


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class FakeLucidLink:
    """Answers like our client does; ``unlisted`` ids are left out of GET /filespaces."""

    def __init__(self) -> None:
        self.remote: dict[str, lucidlink.RemoteFilespace] = {}
        self.unlisted: set[str] = set()
        self.list_error: Exception | None = None
        self.get_errors: dict[str, Exception] = {}
        self.list_calls = 0
        self.get_calls: list[str] = []
        self.period: lucidlink.BillingPeriod | None = None

    def set_usage(self, remote_id: str, used: int, *, users: int = 1, read: int = 0) -> None:
        stats = lucidlink.FilespaceStats(
            used_storage=used,
            filespace_size=used,
            get_request_count=read // 1000,
            get_data_size=read,
            put_request_count=0,
            put_data_size=used,
            list_request_count=0,
            delete_request_count=0,
        )
        self.remote[remote_id] = lucidlink.RemoteFilespace(
            id=remote_id,
            domain_id="dom-1",
            name=remote_id,
            status="initialized",
            subscription_type="teams",
            version=3,
            users_count=users,
            storage=lucidlink.FilespaceStorage(provider="IBM"),
            stats=stats,
        )

    def list_filespaces(self) -> list[lucidlink.RemoteFilespace]:
        self.list_calls += 1
        if self.list_error is not None:
            raise self.list_error
        return [fs for rid, fs in self.remote.items() if rid not in self.unlisted]

    def get_filespace(self, filespace_id: str) -> lucidlink.RemoteFilespace:
        self.get_calls.append(filespace_id)
        if filespace_id in self.get_errors:
            raise self.get_errors[filespace_id]
        if filespace_id not in self.remote:
            raise lucidlink.NotFound("Filespace not found.", status=404)
        return self.remote[filespace_id]

    def current_billing_period(self) -> lucidlink.BillingPeriod:
        return self.period


@pytest.fixture
def fake_lucidlink() -> FakeLucidLink:
    return FakeLucidLink()


@pytest.fixture
def live_filespace(filespace_factory):
    """An active filespace with a remote id, ready at the given moment."""

    def make(*, ready: str = "2026-01-01T00:00", deleted: str | None = None, **overrides):
        count = overrides.pop("number", None)
        fields = {
            "state": "deleted" if deleted else "active",
            "provisioned_at": at(ready),
            "active_at": at(ready),
            "deleted_at": at(deleted) if deleted else None,
        }
        fields.update(overrides)
        if "remote_id" not in fields:
            from provisioning.models import Filespace

            fields["remote_id"] = f"remote-{count or Filespace.objects.count() + 1}"
        return filespace_factory(**fields)

    return make


def write_samples(
    filespace, start: str, end: str, used: int, *, step: int = 3600, summarize: bool = True
) -> int:
    """One sample per slot from start up to end, all with ``used`` bytes; summaries follow."""
    from billing.models import UsageSample

    cursor, stop = at(start), at(end)
    rows = []
    while cursor < stop:
        rows.append(
            UsageSample(
                filespace=filespace,
                customer_id=filespace.customer_id,
                slot=cursor,
                sampled_at=cursor + timedelta(seconds=30),
                used_storage=used,
                filespace_size=used,
                users_count=2,
                get_request_count=0,
                get_data_size=int(cursor.timestamp()),
                put_request_count=0,
                put_data_size=0,
                list_request_count=0,
                delete_request_count=0,
            )
        )
        cursor += timedelta(seconds=step)
    UsageSample.objects.bulk_create(rows, batch_size=2000)
    if summarize:
        # As usage collection does: the month-to-date summaries follow the samples.
        from billing.services import usage_summaries_rebuild

        for month_start in {rating.month_of(row.slot)[0] for row in rows}:
            usage_summaries_rebuild(filespace_ids=[filespace.pk], month_start=month_start)
    return len(rows)
