"""Every lease is taken by one conditional UPDATE, so two workers can never both hold it.

A check-then-update claim (read the row, decide, then write) has a window between the read and
the write in which another worker can take the same lease. These tests open that window
deterministically instead of hoping a race hits it: on the claiming connection, right before the
claim's UPDATE runs, a second claim of the same row runs to completion. A conditional UPDATE
re-checks the row and takes nothing; a check-then-update claim would take it a second time.
A real-worker race (tests/provisioning/test_real_worker.py) only catches that sometimes.

On PostgreSQL a second test does the same with two connections meeting at a barrier.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from portal.webhooks import services as webhooks
from portal.webhooks.models import Delivery, Event, Subscription
from provisioning.managed import services as managed
from provisioning.managed.models import FilespaceInit
from provisioning.models import Filespace
from provisioning.services import filespace_claim_for_create, filespace_claim_for_delete
from provisioning.services.batch import filespaces_claim_fresh_creates


@dataclass
class Claim:
    table: str
    make: Callable[..., int]  # (filespace_factory) -> row id
    take: Callable[[int], object | None]  # row id -> the claimed row, or None
    attempts: Callable[[int], int]


def _requested(filespace_factory) -> int:
    return filespace_factory(next_poll_at=timezone.now() - timedelta(seconds=1)).pk


def _deleting(filespace_factory) -> int:
    return filespace_factory(
        state=Filespace.State.DELETING, next_poll_at=timezone.now() - timedelta(seconds=1)
    ).pk


def _init(filespace_factory) -> int:
    filespace = filespace_factory(state=Filespace.State.PROVISIONED)
    return FilespaceInit.objects.create(
        filespace=filespace, next_attempt_at=timezone.now() - timedelta(seconds=1)
    ).pk


def _delivery(filespace_factory) -> int:
    subscription = Subscription.objects.create(url="https://hooks.example.com/", secret="s")
    key = f"claim-test-{Event.objects.count()}"
    event = Event.objects.create(event_type="order.placed", dedupe_key=key, data={})
    return Delivery.objects.create(subscription=subscription, event=event).pk


def _filespace_attempts(pk: int) -> int:
    return Filespace.objects.get(pk=pk).attempts


CLAIMS = {
    "filespace create": Claim(
        Filespace._meta.db_table,
        _requested,
        lambda pk: filespace_claim_for_create(filespace_id=pk),
        _filespace_attempts,
    ),
    # The batch claim takes the oldest never-tried rows; with a limit of one, the row made first.
    "filespace create batch": Claim(
        Filespace._meta.db_table,
        _requested,
        lambda pk: next(iter(filespaces_claim_fresh_creates(limit=1)), None),
        _filespace_attempts,
    ),
    "filespace delete": Claim(
        Filespace._meta.db_table,
        _deleting,
        lambda pk: filespace_claim_for_delete(filespace_id=pk),
        _filespace_attempts,
    ),
    "managed init": Claim(
        FilespaceInit._meta.db_table,
        _init,
        lambda pk: managed.filespace_init_claim(init_id=pk),
        lambda pk: FilespaceInit.objects.get(pk=pk).attempts,
    ),
    "webhook delivery": Claim(
        Delivery._meta.db_table,
        _delivery,
        lambda pk: webhooks._claim(delivery_id=pk, now=timezone.now()),
        lambda pk: Delivery.objects.get(pk=pk).attempts,
    ),
}


def _is_update_of(sql: str, table: str) -> bool:
    """An UPDATE of the table, also one picking its rows in a WITH clause (still one statement)."""
    text = sql.lstrip().upper()
    if text.startswith("WITH"):
        return f"UPDATE {table.upper()} SET" in text
    return text.startswith("UPDATE") and table in sql


class BeforeFirstUpdate:
    """An execute wrapper that runs `other` once, right before the first UPDATE of `table`."""

    def __init__(self, table: str, other: Callable[[], object]) -> None:
        self.table = table
        self.other = other
        self.ran = False
        self.result = None

    def __call__(self, execute, sql, params, many, context):
        if not self.ran and _is_update_of(sql, self.table):
            self.ran = True
            self.result = self.other()
        return execute(sql, params, many, context)


@pytest.fixture(params=list(CLAIMS), ids=list(CLAIMS))
def claim(request) -> Claim:
    return CLAIMS[request.param]


@pytest.mark.django_db
def test_a_claim_taken_just_before_ours_writes_leaves_ours_empty_handed(claim, filespace_factory):
    pk = claim.make(filespace_factory)
    other_worker = BeforeFirstUpdate(claim.table, lambda: claim.take(pk))

    with connection.execute_wrapper(other_worker):
        ours = claim.take(pk)

    assert other_worker.ran, "the claim never wrote the row"
    assert other_worker.result is not None
    assert ours is None
    assert claim.attempts(pk) == 1


@pytest.mark.django_db
def test_a_claim_is_one_statement_that_reads_nothing_first(claim, filespace_factory):
    """The decision lives in the UPDATE's WHERE: nothing about the row is read before it."""
    from django.test.utils import CaptureQueriesContext

    pk = claim.make(filespace_factory)
    with CaptureQueriesContext(connection) as queries:
        assert claim.take(pk) is not None

    statements = [q["sql"] for q in queries.captured_queries]
    assert _is_update_of(statements[0], claim.table), statements
    assert sum(_is_update_of(sql, claim.table) for sql in statements) == 1, statements


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="two live connections need PostgreSQL; the same-connection test covers SQLite",
)
@pytest.mark.django_db(transaction=True)
def test_two_connections_claiming_at_the_same_moment_get_one_lease(claim, filespace_factory):
    pk = claim.make(filespace_factory)
    barrier = threading.Barrier(2, timeout=10)
    results: list[object | None] = []
    errors: list[BaseException] = []

    def wait_at_the_barrier(execute, sql, params, many, context):
        if _is_update_of(sql, claim.table) and not barrier.broken:
            barrier.wait()
        return execute(sql, params, many, context)

    def worker() -> None:
        try:
            with connections["default"].execute_wrapper(wait_at_the_barrier):
                results.append(claim.take(pk))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert len(results) == 2
    assert sum(result is not None for result in results) == 1
    assert claim.attempts(pk) == 1


@pytest.mark.django_db
def test_a_claim_takes_its_own_row_and_leaves_another_claimable_one_alone(claim, filespace_factory):
    pk = claim.make(filespace_factory)
    other = claim.make(filespace_factory)

    assert claim.take(pk) is not None

    assert claim.attempts(pk) == 1
    assert claim.attempts(other) == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field",
    ["state", "next_poll_at", "lease_until"],
    ids=["another state", "not yet due", "leased"],
)
def test_a_filespace_that_is_not_deleting_due_and_free_is_not_claimed_for_delete(
    filespace_factory, field
):
    pk = _deleting(filespace_factory)
    in_five_minutes = timezone.now() + timedelta(minutes=5)
    value = {"state": Filespace.State.ACTIVE}.get(field, in_five_minutes)
    Filespace.objects.filter(pk=pk).update(**{field: value})

    assert filespace_claim_for_delete(filespace_id=pk) is None
    assert _filespace_attempts(pk) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("state", [Filespace.State.ACTIVE, Filespace.State.DELETING])
def test_a_row_past_creation_with_an_old_lease_is_not_claimed_for_create(filespace_factory, state):
    pk = filespace_factory(state=state, lease_until=timezone.now() - timedelta(minutes=5)).pk

    assert filespace_claim_for_create(filespace_id=pk) is None
    assert Filespace.objects.get(pk=pk).state == state


@pytest.mark.django_db
def test_the_create_claim_holds_a_lease_for_the_configured_time(filespace_factory, settings):
    import time_machine

    with time_machine.travel("2026-03-10T12:00:00Z", tick=False):
        pk = _requested(filespace_factory)
        claimed = filespace_claim_for_create(filespace_id=pk)
        assert claimed.lease_until == timezone.now() + timedelta(
            seconds=settings.PROVISIONING_LEASE
        )
        assert claimed.updated_at == timezone.now()
