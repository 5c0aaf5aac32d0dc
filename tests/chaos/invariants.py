"""The invariants every fault scenario must leave true, each a named check.

- settled: every order ends ready (`provisioned`/`active`) or failed with a reason, within the
  scenario's recovery window;
- one create: at most one filespace per order at LucidLink (one successful POST per name, and
  at most one live filespace of that name);
- nothing untracked: the orphan sweep finds nothing at LucidLink that no live row tracks;
- one sample per slot: collecting usage twice in a slot leaves exactly one sample per live
  filespace;
- rollups = samples: the day's rollup counts and sums equal the raw samples;
- outbox once: every "ready" email (the provisioning outbox) is recorded exactly once per
  filespace that reached ready.
"""

from __future__ import annotations

import time
from collections import Counter

from django.db.models import Count, Sum
from django.utils import timezone

from billing import services as billing
from billing.models import DailyUsage, UsageSample
from provisioning import emails, lucidlink
from provisioning.models import Filespace, ProvisioningEvent
from provisioning.services import orphans

State = Filespace.State
READY = (State.PROVISIONED, State.ACTIVE)


def _settled(row: Filespace) -> bool:
    return row.state in READY or (row.state == State.ERROR and bool(row.last_error))


def wait_settled(filespaces: list[Filespace], *, timeout: float) -> float | None:
    """Seconds until every row is ready or failed with a reason; None if the window passed."""
    started = time.monotonic()
    ids = [filespace.pk for filespace in filespaces]
    while time.monotonic() - started < timeout:
        rows = list(Filespace.objects.filter(pk__in=ids))
        if len(rows) == len(ids) and all(_settled(row) for row in rows):
            return time.monotonic() - started
        time.sleep(0.25)
    return None


def one_create_each(sim, filespaces: list[Filespace]) -> bool:
    ledger = sim.ledger()["calls"]
    created = Counter(
        call["filespace_name"]
        for call in ledger
        if call["operation"] == "createFilespace" and call["status"] == 201
    )
    live = Counter(view["name"] for view in sim.control("GET", "/_sim/filespaces")["filespaces"])
    return all(created[row.remote_name] <= 1 and live[row.remote_name] <= 1 for row in filespaces)


def nothing_untracked() -> bool:
    return orphans.orphans_sweep(client=lucidlink.get_client()).orphans == 0


def one_sample_per_slot() -> bool:
    now = timezone.now()
    client = lucidlink.get_client()
    billing.usage_collect(client=client, now=now)
    billing.usage_collect(client=client, now=now)  # a doubled delivery in the same slot
    live = Filespace.objects.filter(state__in=billing.LIVE_STATES).count()
    per_slot = UsageSample.objects.values("filespace", "slot").annotate(n=Count("id"))
    return all(row["n"] == 1 for row in per_slot) and per_slot.count() >= live


def rollups_equal_samples() -> bool:
    days = {slot.date() for slot in UsageSample.objects.values_list("slot", flat=True)}
    billing.usage_rollup_days(days=days)
    for day in days:
        raw = (
            UsageSample.objects.filter(slot__date=day)
            .values("filespace")
            .annotate(n=Count("id"), total=Sum("used_storage"))
        )
        rolled = {row.filespace_id: row for row in DailyUsage.objects.filter(day=day)}
        for row in raw:
            daily = rolled.get(row["filespace"])
            if daily is None or daily.sample_count != row["n"]:
                return False
            if daily.used_storage_sum != row["total"]:
                return False
    return True


def _ready_emails() -> tuple[dict[int, int], dict[int, int]]:
    rows = Filespace.objects.filter(provisioned_at__isnull=False).values_list("pk", flat=True)
    expected = dict.fromkeys(rows, 1)
    sent = Counter(
        ProvisioningEvent.objects.filter(
            kind=ProvisioningEvent.Kind.EMAIL, api_answer=emails.READY
        ).values_list("filespace_id", flat=True)
    )
    return expected, dict(sent)


def outbox_once(filespaces: list[Filespace], *, timeout: float = 20) -> bool:
    """Each "ready" email is sent by its own task after commit: wait for it, then count."""
    deadline = time.monotonic() + timeout
    expected, sent = _ready_emails()
    while sent != expected and time.monotonic() < deadline:
        time.sleep(0.25)
        expected, sent = _ready_emails()
    time.sleep(1)  # a doubled delivery would land now
    return _ready_emails() == (expected, expected)


def check_all(result, sim, filespaces: list[Filespace], *, recovered_in: float | None) -> None:
    """Run every check into the scenario's result; the test then asserts they all passed."""
    result.recovered_in = recovered_in
    result.checks["settled"] = recovered_in is not None
    result.checks["one create"] = one_create_each(sim, filespaces)
    result.checks["nothing untracked"] = nothing_untracked()
    result.checks["one sample/slot"] = one_sample_per_slot()
    result.checks["rollups=samples"] = rollups_equal_samples()
    result.checks["outbox once"] = outbox_once(filespaces)
