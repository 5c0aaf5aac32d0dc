"""Operator commands: recompute rollups for a range of days, run the invoices of a month."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import DailyUsage, Invoice
from tests.billing.conftest import write_samples

pytestmark = pytest.mark.django_db


def test_the_rollup_command_recomputes_each_day_of_the_range(live_filespace):
    fs = live_filespace()
    write_samples(fs, "2026-06-01T00:00", "2026-06-04T00:00", 10**9)
    out = StringIO()

    call_command("billing_rollup", "2026-06-01", "2026-06-03", stdout=out)

    assert DailyUsage.objects.count() == 3
    assert "Recomputed 3 day(s): 3 rollup row(s)." in out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["2026-13-01"], "YYYY-MM-DD"), (["2026-06-02", "2026-06-01"], "comes before"),
     (["2025-01-01", "2026-12-31"], "At most")],
)  # fmt: skip
def test_the_rollup_command_refuses_bad_ranges(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("billing_rollup", *args)


def test_the_invoice_command_runs_a_month_twice_without_change(live_filespace):
    fs = live_filespace(ready="2026-01-01T00:00")
    write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", 10**12)
    first, second = StringIO(), StringIO()

    call_command("billing_invoice_run", "2026-06", stdout=first)
    call_command("billing_invoice_run", "2026-06", stdout=second)

    assert "1 created" in first.getvalue() and "1 unchanged" in second.getvalue()
    assert Invoice.objects.get().total == 20


def test_the_invoice_command_refuses_a_bad_month():
    with pytest.raises(CommandError, match="not a month"):
        call_command("billing_invoice_run", "June")
