"""Keeping a claimed row's lease alive while its task works, so a short lease is safe.

A task claims a row with a lease of PROVISIONING_LEASE seconds (short: 15 by default). While the
task runs, a daemon thread renews the lease every third of it; when the worker dies, renewals
stop and the row is claimable again within one lease, so the reconciler re-sends its task in
seconds rather than minutes. A live worker stalled longer than a lease (a frozen VM) can lose
its row to another worker; the create then still cannot make two filespaces, because the intent
write before the POST checks the claim (create.filespace_record_intent) and LucidLink refuses a
second filespace of the same name with 409, which the winner adopts.
"""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connections
from django.utils import timezone

from provisioning.models import Filespace
from provisioning.services.common import duration

logger = logging.getLogger("provisioning.services")


def lease_renew(*, filespace_id: int, state: str, attempts: int) -> bool:
    """Extend the lease of a row this task still holds (same state, same attempt number)."""
    now = timezone.now()
    renewed = Filespace.objects.filter(
        pk=filespace_id, state=state, attempts=attempts, lease_until__isnull=False
    ).update(lease_until=now + duration(settings.PROVISIONING_LEASE))
    return renewed == 1


@contextmanager
def lease_kept(*, filespace: Filespace) -> Iterator[None]:
    """Renew the row's lease in the background for as long as the block runs."""
    stop = threading.Event()
    every = max(1.0, settings.PROVISIONING_LEASE / 3)
    key = {"filespace_id": filespace.pk, "state": filespace.state, "attempts": filespace.attempts}

    def renew() -> None:
        try:
            while not stop.wait(every):
                if not lease_renew(**key):
                    return  # the row moved on (or was taken over): nothing left to keep
        except Exception:
            logger.exception("Could not renew the lease of filespace %s.", filespace.pk)
        finally:
            connections.close_all()  # this thread's own connections

    keeper = threading.Thread(target=renew, name=f"lease-{filespace.pk}", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join(timeout=5)


@contextmanager
def leases_kept(*, ids: list[int]) -> Iterator[None]:
    """Renew the leases of a batch of claimed creates (services.batch), one UPDATE each time."""
    from provisioning.services.batch import filespaces_renew_leases

    stop = threading.Event()
    every = max(1.0, settings.PROVISIONING_LEASE / 3)

    def renew() -> None:
        try:
            while not stop.wait(every):
                if not filespaces_renew_leases(ids=ids):
                    return  # every row moved on: nothing left to keep
        except Exception:
            logger.exception("Could not renew the leases of a create batch.")
        finally:
            connections.close_all()  # this thread's own connections

    keeper = threading.Thread(target=renew, name="lease-batch", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join(timeout=5)
