"""Benchmark: invoicing a month of hourly samples for 2,000 filespaces on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_billing.py

Creates a scratch PostgreSQL database, 200 customers with 10 filespaces each (2,000), and a
month (June 2026, 720 hourly slots) of samples for each, about 1% of slots left as gaps:
1.43 million rows, loaded with COPY. Then it reports:

- the one-off build of the month summaries (collection keeps them as samples arrive; COPY
  bypasses it), skipped with ``--no-summaries`` (then PostgreSQL integrates every window);
- the invoice run's time (month summaries checked by one ``GROUP BY`` over the month; windows
  they do not cover integrated by PostgreSQL with window functions; Python rates and writes
  the drafts in bulk) against a plain SQL ``GROUP BY`` over the same rows (median of three,
  measured around the run), and their ratio;
- the same run again (nothing changed: every customer skipped by its inputs' digest and the
  samples mark), again after one new sample for one filespace, and forced (``force=True``:
  everything rated again, nothing written);
- the daily rollup of the month, and the incremental rollup after that one new sample;
- one collection run for the 2,000 filespaces through a fake client (one list call);
- the customer usage page's median time (10 filespaces, 20 requests, Django test client).

The scratch database is dropped at the end. Without PostgreSQL it stops with a message.
"""

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def scratch_database(base_url: str, name: str, *, drop: bool = False) -> str:
    import psycopg

    parts = urlsplit(base_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            c.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def timed(label: str, fn, results: dict):
    """Wall time, and this process's CPU time (the rest is waiting for PostgreSQL or the CPU)."""
    started, cpu = time.perf_counter(), time.process_time()
    value = fn()
    results[label] = time.perf_counter() - started
    print(f"{label:<44} {results[label]:8.3f} s  (cpu {time.process_time() - cpu:7.3f} s)")
    return value


def seed(customers: int, per_customer: int, gap_rate: float) -> tuple[list, object]:
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connection

    from portal.customers.models import Customer, Membership
    from portal.orders.models import Order
    from portal.plans.models import Plan
    from provisioning.models import Filespace

    plan = Plan.objects.create(
        name="Teams", slug="teams", storage_owner="lucidlink", subscription_type="teams",
        provider="IBM", allowed_regions=["us-east"], price_per_unit_month=Decimal("0.023"),
        minimum_monthly_charge=Decimal("5.00"),
    )  # fmt: skip
    rows = Customer.objects.bulk_create(
        Customer(name=f"Bench {i:03d}", name_prefix=f"bench{i}", billing_email=f"b{i}@example.com",
                 country="GB")
        for i in range(customers)
    )  # fmt: skip
    ready = datetime(2026, 1, 1, tzinfo=UTC)
    orders = Order.objects.bulk_create(
        Order(customer=c, plan=plan, name=f"fs{j}", remote_name=f"{c.name_prefix}-fs{j}",
              provider="IBM", region="us-east", state="fulfilled", idempotency_key=f"{c.pk}-{j}")
        for c in rows for j in range(per_customer)
    )  # fmt: skip
    filespaces = Filespace.objects.bulk_create(
        Filespace(customer_id=o.customer_id, order=o, plan=plan, remote_name=o.remote_name,
                  remote_id=f"r-{o.pk}", storage_owner="lucidlink", subscription_type="teams",
                  provider="IBM", region="us-east", state="active", root_password="x",
                  provisioned_at=ready, active_at=ready)
        for o in orders
    )  # fmt: skip
    rng = random.Random(6)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    columns = (
        "filespace_id, customer_id, slot, sampled_at, used_storage, filespace_size, users_count, "
        "get_request_count, get_data_size, put_request_count, put_data_size, "
        "list_request_count, delete_request_count"
    )
    from billing import services

    services.usage_partitions_ensure(now=start)  # June's partition (PostgreSQL), not DEFAULT
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY billing_usagesample ({columns}) FROM STDIN") as copy,
    ):
        for fs in filespaces:
            level = rng.randrange(10**10, 5 * 10**12)
            for hour in range(720):
                if rng.random() < gap_rate:
                    continue
                level = max(0, level + rng.randrange(-(10**9), 2 * 10**9))
                slot = start + timedelta(hours=hour)
                copy.write_row((fs.pk, fs.customer_id, slot, slot, level, level, 3,
                                hour, hour * 10**6, hour, hour * 10**6, hour, 0))  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_usagesample")
    user = get_user_model().objects.create_user("bench@example.com", "bench@example.com", "x")
    Membership.objects.create(customer=rows[0], user=user, role="owner")
    return filespaces, user


class ListOnlyClient:
    """Answers GET /filespaces for every filespace at once, like LucidLink's list endpoint."""

    def __init__(self, filespaces) -> None:
        from provisioning import lucidlink

        stats = lucidlink.FilespaceStats(10**12, 10**12, 1, 1, 1, 1, 1, 1)  # size, then used...
        self.calls = 0
        self.answer = [
            lucidlink.RemoteFilespace(
                domain_id="d",
                name=fs.remote_name,
                storage=lucidlink.FilespaceStorage(provider="IBM"),
                id=fs.remote_id,
                status="initialized",
                users_count=2,
                stats=stats,
            )
            for fs in filespaces
        ]

    def list_filespaces(self):
        self.calls += 1
        return self.answer

    def get_filespace(self, filespace_id):
        raise AssertionError("the list answered for everyone")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--per-customer", type=int, default=10)
    parser.add_argument("--gap-rate", type=float, default=0.01)
    parser.add_argument("--page-requests", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--no-summaries", action="store_true", help="no MonthUsage: the database integrates all"
    )
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        print("bench_billing needs PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    db_name = f"bench_billing_{uuid.uuid4().hex[:8]}"
    if args.keep:
        print(f"scratch database {db_name} (kept)")
    os.environ.update(
        {
            "DEBUG": os.environ.get("DEBUG", "true"),
            "DATABASE_URL": scratch_database(base_url, db_name),
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        from billing import services
        from billing.models import DailyUsage, Invoice, InvoiceLine, UsageSample

        call_command("migrate", verbosity=0)
        results: dict[str, float] = {}
        filespaces, user = timed(
            "seed (COPY samples)",
            lambda: seed(args.customers, args.per_customer, args.gap_rate),
            results,
        )
        samples = UsageSample.objects.count()
        start = datetime(2026, 6, 1, tzinfo=UTC)
        print(f"filespaces {len(filespaces)}, samples {samples}")

        def group_by():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT customer_id, filespace_id, count(*), sum(used_storage) "
                    "FROM billing_usagesample WHERE slot >= %s AND slot < %s "
                    "GROUP BY customer_id, filespace_id",
                    [datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)],
                )
                return cursor.fetchall()

        def summaries():
            # Collection keeps these as samples arrive; COPY bypassed it, so build them once.
            ids = [fs.pk for fs in filespaces]
            for index in range(0, len(ids), 500):
                services.usage_summaries_rebuild(
                    filespace_ids=ids[index : index + 500],
                    month_start=datetime(2026, 6, 1, tzinfo=UTC),
                )

        if not args.no_summaries:
            timed("month summaries from raw (one-off)", summaries, results)
        timed("plain SQL GROUP BY (warm-up)", group_by, results)
        group_times = []
        groups = timed("plain SQL GROUP BY", group_by, results)
        group_times.append(results["plain SQL GROUP BY"])

        def invoice_run(force=False):
            return lambda: services.invoice_run(year=2026, month=6, force=force)

        run = timed("invoice run (first)", invoice_run(), results)
        print(f"  {run}; invoices {Invoice.objects.count()}, lines {InvoiceLine.objects.count()}")
        timed("plain SQL GROUP BY", group_by, results)
        group_times.append(results["plain SQL GROUP BY"])
        again = timed("invoice run (rerun, nothing changed)", invoice_run(), results)
        print(f"  {again}")
        timed("plain SQL GROUP BY", group_by, results)
        group_times.append(results["plain SQL GROUP BY"])
        assert len(groups) == len(filespaces)
        group = statistics.median(group_times)
        print(f"plain SQL GROUP BY, median of {len(group_times)}: {group:.3f} s")
        for label in ("invoice run (first)", "invoice run (rerun, nothing changed)"):
            print(f"ratio {label} / GROUP BY: {results[label] / group:.2f}x")
        load = os.getloadavg()[0]
        print(f"load average now: {load:.1f} on {os.cpu_count()} CPUs")
        late = UsageSample.objects.filter(filespace=filespaces[0]).order_by("-slot").first()
        # A late sample replacing the month's last one of the first filespace.
        late.pk, late.slot = None, datetime(2026, 6, 30, 23, tzinfo=UTC)
        late._state.adding = True
        UsageSample.objects.filter(filespace=filespaces[0], slot=late.slot).delete()
        late.used_storage += 10**12
        late.save()
        # As docs/billing.md, section 9, asks of code writing samples outside collection.
        services.usage_summaries_rebuild(filespace_ids=[late.filespace_id], month_start=start)
        one = timed("invoice run (one new sample)", invoice_run(), results)
        print(f"  {one}")
        forced = timed("invoice run (forced, nothing to write)", invoice_run(True), results)
        print(f"  {forced}")
        days = [date(2026, 6, d) for d in range(1, 31)]
        timed("daily rollups for the month", lambda: services.usage_rollup_days(days=days), results)
        print(f"  rollup rows {DailyUsage.objects.count()}")
        timed("daily rollups again (rows equal)", lambda: services.usage_rollup_days(days=days),
              results)  # fmt: skip
        services.usage_rollup_new(now=datetime(2026, 7, 1, 0, 20, tzinfo=UTC))  # sets the marks
        timed(
            "incremental rollup, nothing new",
            lambda: services.usage_rollup_new(now=datetime(2026, 7, 1, 0, 30, tzinfo=UTC)),
            results,
        )
        early = UsageSample.objects.filter(filespace=filespaces[1]).order_by("slot").first()
        UsageSample.objects.filter(pk=early.pk).delete()
        early.pk, early._state.adding = None, True
        early.save()
        services.usage_summaries_rebuild(filespace_ids=[early.filespace_id], month_start=start)
        rolled = timed(
            "incremental rollup, one late sample",
            lambda: services.usage_rollup_new(now=datetime(2026, 7, 1, 0, 40, tzinfo=UTC)),
            results,
        )
        print(f"  days recomputed: {[str(day) for day in rolled]}")
        fake = ListOnlyClient(filespaces)
        collect = timed(
            "one collection run (fake list client)",
            lambda: services.usage_collect(client=fake, now=datetime(2026, 7, 1, 0, 5, tzinfo=UTC)),
            results,
        )
        print(f"  sampled {collect.sampled}, list calls {fake.calls}")

        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        times = []
        for _ in range(args.page_requests):
            started = time.perf_counter()
            response = client.get("/billing/usage/", {"period": "2026-06"})
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
        print(f"usage page (10 filespaces) median {statistics.median(times) * 1000:.1f} ms, "
              f"min {min(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")  # fmt: skip
        return 0
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            scratch_database(base_url, db_name, drop=True)


if __name__ == "__main__":
    raise SystemExit(main())
