"""Finalizing many drafts at once from several threads: every number used once, none skipped."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from billing import services
from billing.models import Invoice
from tests.billing.conftest import write_samples


@pytest.mark.django_db(transaction=True)
def test_parallel_finalizations_number_invoices_without_gaps_or_repeats(live_filespace):
    if connections["default"].vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: the SQLite test database is in memory with a shared cache, whose "
            "table locks fail at once instead of waiting (a file database waits; see settings)"
        )
    for _ in range(12):
        fs = live_filespace(ready="2026-01-01T00:00")
        write_samples(fs, "2026-06-01T00:00", "2026-06-01T06:00", 10**12)
    services.invoice_run(year=2026, month=6)
    drafts = list(Invoice.objects.values_list("pk", flat=True))

    def finalize(pk: int) -> str:
        try:
            return services.invoice_finalize(invoice_id=pk).number
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=4) as pool:
        numbers = list(pool.map(finalize, drafts))

    assert sorted(numbers) == [f"INV-{n:06d}" for n in range(1, 13)]
