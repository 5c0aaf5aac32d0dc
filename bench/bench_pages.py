"""Benchmark: what a page costs at the end of a month, as req/s relative to the plans catalog.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_pages.py

Creates a scratch PostgreSQL database holding:

- customer "Bench 0000" with 100 active filespaces and an hourly sample for each from the 1st of
  the current month up to now (about 72,000 rows at a month's end), their month-to-date
  summaries and daily rollups, and 100 orders;
- 1,999 more customers with 10 filespaces each (20,000 filespaces in all), a daily rollup per
  filespace and day of the month so far, a month-to-date summary each, and a draft invoice per
  customer for the month (what the staff pages read).

Then it serves the portal with gunicorn (DEBUG=false, 2 sync workers) and drives each page with
wrk (Debian's ``wrk``), signed in (a customer owner; a staff user with TOTP),
and prints each page's req/s and its ratio to the plans catalog: each page runs right after the
catalog, ``--rounds`` times, and the median pair is reported (a shared machine's load drifts).
Every URL is checked for a 200 first, so a redirect cannot pass for speed.
The scratch database is dropped at the end (``--keep`` keeps it; ``--database NAME`` measures a
kept one again without seeding, with the same ``--at``). Without PostgreSQL or wrk it stops with
a message.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_billing import scratch_database  # noqa: E402

TB = 10**12


def copy_rows(table: str, columns: str, rows) -> None:
    from django.db import connection

    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


def seed(*, customers: int, per_customer: int, main_filespaces: int, now: datetime) -> dict:
    from decimal import Decimal

    from allauth.mfa.totp.internal.auth import TOTP
    from django.contrib.auth import get_user_model
    from django.db import connection

    from billing import rating, services
    from billing.models import Invoice
    from portal.customers.models import Customer, Membership
    from portal.orders.models import Order
    from portal.plans.models import Plan
    from provisioning.models import Filespace

    month_start, _ = rating.month_of(now)
    plan = Plan.objects.create(
        name="Teams", slug="teams", storage_owner="lucidlink", subscription_type="teams",
        provider="IBM", allowed_regions=["us-east"], price_per_unit_month=Decimal("0.023"),
        minimum_monthly_charge=Decimal("5.00"),
    )  # fmt: skip
    for index in range(5):
        Plan.objects.create(
            name=f"Plan {index}", slug=f"plan-{index}", storage_owner="lucidlink",
            subscription_type="teams", provider="IBM", allowed_regions=["us-east", "eu-de"],
            price_per_unit_month=Decimal("0.02"),
        )  # fmt: skip
    rows = Customer.objects.bulk_create(
        Customer(name=f"Bench {i:04d}", name_prefix=f"bench{i}", billing_email=f"b{i}@example.com",
                 country="GB")
        for i in range(customers)
    )  # fmt: skip
    ready = month_start - timedelta(days=40)
    sizes = [main_filespaces] + [per_customer] * (customers - 1)
    orders = Order.objects.bulk_create(
        Order(customer=c, plan=plan, name=f"fs{j}", remote_name=f"{c.name_prefix}-fs{j}",
              provider="IBM", region="us-east", state="fulfilled", idempotency_key=f"{c.pk}-{j}")
        for c, size in zip(rows, sizes, strict=True) for j in range(size)
    )  # fmt: skip
    filespaces = Filespace.objects.bulk_create(
        Filespace(customer_id=o.customer_id, order=o, plan=plan, remote_name=o.remote_name,
                  remote_id=f"r-{o.pk}", storage_owner="lucidlink", subscription_type="teams",
                  provider="IBM", region="us-east", state="active", root_password="x",
                  provisioned_at=ready, active_at=ready)
        for o in orders
    )  # fmt: skip
    main = [fs for fs in filespaces if fs.customer_id == rows[0].pk]
    rng = random.Random(17)
    hours = int((now - month_start).total_seconds() // 3600) + 1
    columns = (
        "filespace_id, customer_id, slot, sampled_at, used_storage, filespace_size, users_count, "
        "get_request_count, get_data_size, put_request_count, put_data_size, "
        "list_request_count, delete_request_count"
    )

    def samples():
        for fs in main:
            level = rng.randrange(10**10, 5 * TB)
            for hour in range(hours):
                level = max(0, level + rng.randrange(-(10**9), 2 * 10**9))
                slot = month_start + timedelta(hours=hour)
                yield (fs.pk, fs.customer_id, slot, slot, level, level, 3, hour, hour * 10**6,
                       hour, hour * 10**6, hour, 0)  # fmt: skip

    services.usage_partitions_ensure(now=month_start)  # its partition (PostgreSQL), not DEFAULT
    copy_rows("billing_usagesample", columns, samples())
    services.usage_summaries_rebuild(filespace_ids=[fs.pk for fs in main], month_start=month_start)
    days = [(month_start + timedelta(days=d)).date() for d in range(now.day)]
    services.usage_rollup_days(days=days)

    rollup_columns = (
        "filespace_id, customer_id, day, sample_count, gap_count, used_storage_sum, "
        "used_storage_min, used_storage_max, used_storage_last, users_peak, get_data_growth, "
        "put_data_growth"
    )
    others = [fs for fs in filespaces if fs.customer_id != rows[0].pk]
    copy_rows(
        "billing_dailyusage",
        rollup_columns,
        ((fs.pk, fs.customer_id, day, 24, 0, 24 * TB, TB, TB, TB, 2, 0, 0)
         for fs in others for day in days),
    )  # fmt: skip
    first = int(month_start.timestamp())
    last = first + (hours - 1) * 3600
    summary_columns = (
        "filespace_id, customer_id, month, slot_seconds, first_slot, first_value, last_slot, "
        "last_value, slot_sum, slot_count, sample_count, peak, days, updated_at"
    )
    day_map = json.dumps({str(first // 86400 + d): [TB, 24 * TB, 24, TB] for d in range(now.day)})
    copy_rows(
        "billing_monthusage",
        summary_columns,
        ((fs.pk, fs.customer_id, month_start.date(), 3600, first, TB, last, TB, hours * TB, hours,
          hours, TB, day_map, now) for fs in others),
    )  # fmt: skip
    Invoice.objects.bulk_create(
        Invoice(customer=c, period_start=month_start.date(), currency="USD", total=Decimal("23.00"))
        for c in rows
    )  # fmt: skip
    with connection.cursor() as cursor:
        for table in ("usagesample", "dailyusage", "monthusage", "invoice"):
            cursor.execute(f"ANALYZE billing_{table}")
    users = get_user_model().objects
    owner = users.create_user("owner@example.com", "owner@example.com", "x")
    Membership.objects.create(customer=rows[0], user=owner, role="owner")
    staff = users.create_user("staff@example.com", "staff@example.com", "x", is_staff=True)
    TOTP.activate(staff, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    return {
        "owner": owner,
        "staff": staff,
        "customer": rows[0],
        "filespace": main[0],
        "samples": hours * len(main),
        "filespaces": len(filespaces),
        "customers": len(rows),
    }


def kept_data(db_name: str) -> dict:
    """The signed-in users and measured rows of a database seeded by an earlier --keep run."""
    from django.contrib.auth import get_user_model

    from portal.customers.models import Customer

    users = get_user_model().objects
    owner, staff = users.get(email="owner@example.com"), users.get(email="staff@example.com")
    customer = Customer.objects.get(memberships__user=owner)
    print(f"database {db_name} (kept by an earlier run, not seeded again)")
    return {
        "owner": owner,
        "staff": staff,
        "customer": customer,
        "filespace": customer.filespaces.order_by("pk").first(),
    }


def session_cookie(user) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def check(url: str, cookie: str) -> int:
    request = urllib.request.Request(url, headers={"Cookie": cookie})  # noqa: S310 - http only

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wrk(url: str, cookie: str, seconds: int, connections: int) -> tuple[float, str]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency",
         "-H", f"Cookie: {cookie}", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in out:
        raise SystemExit(f"{url}: non-2xx responses under load:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+(\S+)", out).group(1)
    return rate, p99


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--per-customer", type=int, default=10)
    parser.add_argument("--filespaces", type=int, default=100, help="of the measured customer")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--port", type=int, default=8917)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--database",
        help="measure a database kept by an earlier --keep run (same --at) instead of seeding one",
    )
    parser.add_argument(
        "--at",
        help="pin the clock of the seed and the server to this instant, ticking from there "
        "(e.g. 2026-11-30T23:30:00Z: a whole month of samples on any day)",
    )
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        print("bench_pages needs PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    if shutil.which("wrk") is None:
        print("bench_pages needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    db_name = args.database or f"bench_pages_{uuid.uuid4().hex[:8]}"
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "FIELD_ENCRYPTION_KEYS": "x3bUXVb0zhhKJ5v9VVe9jkCyTJRKyrbNh2lqDf2rnf8=",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": (
            base_url.rsplit("/", 1)[0] + f"/{db_name}"
            if args.database
            else scratch_database(base_url, db_name)
        ),
        "LOG_LEVEL": "WARNING",
        "VAR_DIR": str(ROOT / "var" / "bench"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    if args.at:
        import time_machine

        env["BENCH_NOW"] = args.at
        time_machine.travel(args.at, tick=True).start()
    os.environ.update(env)
    server = None
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.utils import timezone

        call_command("migrate", verbosity=0)
        call_command("collectstatic", "--noinput", verbosity=0)  # DEBUG=false serves hashed names
        now = timezone.now()
        if args.database:
            data = kept_data(args.database)
        else:
            started = time.perf_counter()
            data = seed(
                customers=args.customers,
                per_customer=args.per_customer,
                main_filespaces=args.filespaces,
                now=now,
            )
            print(
                f"database {db_name}; seeded in {time.perf_counter() - started:.1f} s: "
                f"{data['customers']} customers, "
                f"{data['filespaces']} filespaces, {data['samples']} samples of the measured "
                f"customer ({args.filespaces} filespaces, {now:%Y-%m-%d %H:%M} UTC)"
            )
        owner, staff = session_cookie(data["owner"]), session_cookie(data["staff"])
        from django.db import connections

        connections.close_all()
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "portal.wsgi", "-w", "2", "-b",
             f"127.0.0.1:{args.port}", "--log-level", "warning",
             *(["-c", str(ROOT / "bench/gunicorn_clock.py")] if args.at else [])],
            cwd=ROOT, env={**os.environ, **env},
        )  # fmt: skip
        base = f"http://127.0.0.1:{args.port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)  # noqa: S310
                break
            except OSError:
                time.sleep(0.2)
        customer, filespace = data["customer"], data["filespace"]
        pages = [
            ("plans catalog", "/plans/", owner),
            ("dashboard", "/dashboard/", owner),
            ("usage page", "/billing/usage/", owner),
            ("orders list", "/orders/", owner),
            ("filespace page", f"/filespaces/{filespace.pk}/", owner),
            ("staff billing overview", "/billing/staff/", staff),
            ("staff billing customer", f"/billing/staff/customers/{customer.pk}/", staff),
            ("staff customer list", "/staff/customers/", staff),
            ("staff customer page", f"/staff/customers/{customer.pk}/", staff),
        ]
        for label, path, cookie in pages:
            status = check(base + path, cookie)
            if status != 200:
                raise SystemExit(f"{label} {path} answered {status}, not 200")
        # The machine is shared: each page is measured right after the catalog, in several
        # rounds, and its ratio is the median of those adjacent pairs.
        results = []
        for label, path, cookie in pages[1:]:
            pairs = []
            for _ in range(args.rounds):
                catalog = wrk(base + pages[0][1], owner, args.seconds, args.connections)[0]
                rate, p99 = wrk(base + path, cookie, args.seconds, args.connections)
                if catalog:  # no catalog request finished in the window: no ratio to take
                    pairs.append((rate / catalog, rate, catalog, p99))
            if not pairs:
                raise SystemExit(f"{label}: the catalog answered nothing in {args.rounds} rounds")
            pairs.sort()
            ratio, rate, catalog, p99 = pairs[len(pairs) // 2]
            results.append((label, rate, catalog, ratio, p99, os.getloadavg()[0]))
        print(
            f"\n{'page':<26} {'req/s':>8} {'catalog':>8} {'x catalog':>10} {'p99':>9} {'load':>6}"
        )
        for label, rate, catalog, ratio, p99, load in results:
            print(f"{label:<26} {rate:8.1f} {catalog:8.1f} {ratio:10.2f} {p99:>9} {load:6.1f}")
        print(
            f"\ngunicorn 2 sync workers, DEBUG=false, wrk -t2 -c{args.connections} "
            f"-d{args.seconds}s per page, median of {args.rounds} catalog/page pairs, "
            f"{os.cpu_count()} CPUs" + (f", clock pinned at {args.at}" if args.at else "")
        )
        return 0
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        if not args.keep and not args.database:
            scratch_database(base_url, db_name, drop=True)


if __name__ == "__main__":
    raise SystemExit(main())
