"""Profile the pages of bench_pages.py in-process: queries, time, and where the Python time goes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/profile_pages.py

Seeds a scratch database exactly as bench/bench_pages.py does (``--database NAME --keep`` reuses
one kept from an earlier run), then requests each page through Django's test client, signed in
like the benchmark: the median time of ``--requests`` requests, the SQL statements of one request
with their total time, and with ``--profile`` the functions with the most cumulative time.
"""

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_pages  # noqa: E402
from bench_billing import scratch_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="reuse this database (kept by an earlier --keep)")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--only", help="profile (and --sql) only pages whose label contains this")
    parser.add_argument("--sql", action="store_true", help="print the SQL of one request")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--at", help="pin the clock here, ticking (as bench_pages.py --at)")
    args = parser.parse_args()
    if args.at:
        import time_machine

        time_machine.travel(args.at, tick=True).start()

    base_url = os.environ.get("DATABASE_URL", "")
    db_name = args.database or f"bench_pages_{uuid.uuid4().hex[:8]}"
    database_url = (
        base_url.rsplit("/", 1)[0] + f"/{db_name}"
        if args.database
        else scratch_database(base_url, db_name)
    )
    os.environ.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": "bench-profile-secret-key-0123456789abcdef0123456789",
            "FIELD_ENCRYPTION_KEYS": "x3bUXVb0zhhKJ5v9VVe9jkCyTJRKyrbNh2lqDf2rnf8=",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            "VAR_DIR": str(ROOT / "var" / "bench"),
            "DJANGO_SETTINGS_MODULE": "portal.settings",
        }
    )
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from portal.customers.models import Customer

    try:
        if not args.database:
            call_command("migrate", verbosity=0)
            started = time.perf_counter()
            now = timezone.now()
            bench_pages.seed(customers=2000, per_customer=10, main_filespaces=100, now=now)
            print(f"database {db_name} seeded in {time.perf_counter() - started:.0f} s")
        call_command("collectstatic", "--noinput", verbosity=0)
        users = get_user_model().objects
        owner, staff = users.get(email="owner@example.com"), users.get(email="staff@example.com")
        customer = Customer.objects.get(memberships__user=owner)
        filespace = customer.filespaces.order_by("pk").first()

        def client_for(user) -> Client:
            client = Client()
            cookie = bench_pages.session_cookie(user).split("=", 1)[1]
            client.cookies[settings.SESSION_COOKIE_NAME] = cookie
            return client

        clients = {"owner": client_for(owner), "staff": client_for(staff)}
        pages = [
            ("plans catalog", "/plans/", "owner"),
            ("dashboard", "/dashboard/", "owner"),
            ("usage page", "/billing/usage/", "owner"),
            ("orders list", "/orders/", "owner"),
            ("filespace page", f"/filespaces/{filespace.pk}/", "owner"),
            ("staff billing overview", "/billing/staff/", "staff"),
            ("staff billing customer", f"/billing/staff/customers/{customer.pk}/", "staff"),
            ("staff customer list", "/staff/customers/", "staff"),
            ("staff customer page", f"/staff/customers/{customer.pk}/", "staff"),
        ]
        for label, path, who in pages:
            client = clients[who]
            response = client.get(path)
            if response.status_code != 200:
                print(f"{label}: {path} answered {response.status_code}")
                continue
            times, cpu = [], []
            for _ in range(args.requests):
                started, started_cpu = time.perf_counter(), time.process_time()
                client.get(path)
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
            with CaptureQueriesContext(connection) as queries:
                client.get(path)
            sql_ms = sum(float(q["time"]) for q in queries.captured_queries) * 1000
            print(
                f"{label:<24} median {statistics.median(times) * 1000:7.1f} ms  "
                f"cpu {statistics.median(cpu) * 1000:6.1f} ms (min {min(cpu) * 1000:5.1f})  "
                f"queries {len(queries.captured_queries):3d} ({sql_ms:6.1f} ms)  "
                f"bytes {len(response.content)}"
            )
            if args.sql and (not args.only or args.only in label):
                for query in queries.captured_queries:
                    print(f"  {float(query['time']) * 1000:6.1f} ms  {query['sql'][:300]}")
            if args.profile and (not args.only or args.only in label):
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(5):
                    client.get(path)
                profile.disable()
                out = io.StringIO()
                stats = pstats.Stats(profile, stream=out)
                stats.sort_stats("cumulative").print_stats(r"/(portal|billing|provisioning)/", 30)
                stats.sort_stats("tottime").print_stats(20)
                print(out.getvalue())
    finally:
        connection.close()
        if not args.keep and not args.database:
            scratch_database(base_url, db_name, drop=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
