"""Benchmark: usage samples in one plain table vs partitioned by month, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/bench_partitions.py

Seeds three months (April, May, June 2026) of hourly samples for 2,000 filespaces (200
customers x 10, about 1% gaps; 4.3 million rows, loaded with COPY) into a plain table (the
schema before billing migration 0009), copies that database (CREATE DATABASE ... TEMPLATE),
then:

- plain table: a month's GROUP BY per filespace (May; median of three), and retention the way
  it was before partitions (``usage_prune`` of HEAD before this change: ids in batches of
  10,000, ``DELETE ... WHERE id IN``) for April's rows;
- the copy: the migration to the partitioned table (the rows copied into monthly partitions),
  the same GROUP BY (the planner reads May's partition only; checked with EXPLAIN), and
  retention as built (``usage_prune``: April's partition detached and dropped);
- on both: one collection of 2,000 samples (bulk insert, ON CONFLICT DO NOTHING).

Each phase runs in its own process (a database cannot be copied while connections to it are
open). The scratch databases are dropped at the end. Without PostgreSQL it stops with a message.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_billing import ListOnlyClient, scratch_database  # noqa: E402

APRIL, MAY, JUNE, JULY = (datetime(2026, m, 1, tzinfo=UTC) for m in (4, 5, 6, 7))
COLUMNS = (
    "filespace_id, customer_id, slot, sampled_at, used_storage, filespace_size, users_count, "
    "get_request_count, get_data_size, put_request_count, put_data_size, "
    "list_request_count, delete_request_count"
)


def setup_django(url: str) -> None:
    os.environ.update(
        {"DEBUG": os.environ.get("DEBUG", "true"), "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def timed(label: str, fn, results: dict):
    started = time.perf_counter()
    value = fn()
    results[label] = round(time.perf_counter() - started, 3)
    print(f"  {label:<58} {results[label]:8.3f} s", flush=True)
    return value


def phase_seed(args) -> dict:
    """Plain table (billing at 0008), June from bench_billing's seed, then April and May."""
    import random

    from django.core.management import call_command
    from django.db import connection

    from bench.bench_billing import seed

    call_command("migrate", verbosity=0)
    call_command("migrate", "billing", "0008", verbosity=0)
    results: dict = {}
    filespaces, _ = timed("seed June (bench_billing.seed)", lambda: seed(200, 10, 0.01), results)
    rng = random.Random(4)

    def more():
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY billing_usagesample ({COLUMNS}) FROM STDIN") as copy,
        ):
            for fs in filespaces:
                level = rng.randrange(10**10, 5 * 10**12)
                for hour in range(int((JUNE - APRIL).total_seconds() // 3600)):
                    if rng.random() < 0.01:
                        continue
                    level = max(0, level + rng.randrange(-(10**9), 2 * 10**9))
                    slot = APRIL + timedelta(hours=hour)
                    copy.write_row((fs.pk, fs.customer_id, slot, slot, level, level, 3,
                                    hour, hour * 10**6, hour, hour * 10**6, hour, 0))  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE billing_usagesample")

    timed("seed April and May (COPY)", more, results)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM billing_usagesample")
        results["rows"] = cursor.fetchone()[0]
    print(f"  rows {results['rows']}")
    return results


def group_by_may(results: dict, label: str) -> None:
    from django.db import connection

    sql = (
        "SELECT customer_id, filespace_id, count(*), sum(used_storage) FROM billing_usagesample"
        " WHERE slot >= %s AND slot < %s GROUP BY customer_id, filespace_id"
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, [MAY, JUNE])
        plan = [row[0] for row in cursor.fetchall()]
        scanned = sorted(
            {line.split("->")[-1].split("(")[0].strip() for line in plan if " on " in line}
        )
        print(f"  GROUP BY of May reads: {'; '.join(scanned)}")
        results[f"{label} reads"] = scanned
        times = []
        for _ in range(4):  # the first warms the cache
            started = time.perf_counter()
            cursor.execute(sql, [MAY, JUNE])
            assert len(cursor.fetchall()) == 2000
            times.append(time.perf_counter() - started)
    results[label] = round(statistics.median(times[1:]), 3)
    print(f"  {label:<58} {results[label]:8.3f} s  (median of 3 after a warm-up)")


def collect_once(results: dict, label: str) -> None:
    from billing import services
    from provisioning.models import Filespace

    client = ListOnlyClient(list(Filespace.objects.all()))
    result = timed(label, lambda: services.usage_collect(client=client, now=JULY), results)
    assert result.sampled == 2000, result


def table_size() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " WHERE c.relname LIKE 'billing\\_usagesample%%' AND c.relkind IN ('r', 'p')"
        )
        return int(cursor.fetchone()[0])


def phase_plain(args) -> dict:
    from django.db import connection

    from billing.models import UsageSample

    results: dict = {}
    group_by_may(results, "plain: GROUP BY of May")
    collect_once(results, "plain: one collection of 2,000 samples")

    def old_prune():
        # usage_prune before partitions: ids in batches of 10,000, each batch deleted by id.
        deleted = 0
        while True:
            ids = list(
                UsageSample.objects.filter(slot__lt=MAY).values_list("pk", flat=True)[:10_000]
            )
            if not ids:
                return deleted
            deleted += UsageSample.objects.filter(pk__in=ids).delete()[0]

    size = table_size()
    results["plain: retention rows deleted"] = timed(
        "plain: retention of April (batched DELETE, as before)", old_prune, results
    )
    results["plain: size before/after MB"] = [size // 2**20, table_size() // 2**20]
    print(f"  April rows deleted {results['plain: retention rows deleted']};"
          f" table+indexes {results['plain: size before/after MB']} MB (no space back"
          " until VACUUM; the file never shrinks without VACUUM FULL)")  # fmt: skip
    with connection.cursor() as cursor:
        vacuum = lambda: cursor.execute("VACUUM billing_usagesample")  # noqa: E731
        timed("plain: VACUUM after the delete", vacuum, results)
    return results


def phase_partitioned(args) -> dict:
    from django.core.management import call_command
    from django.test import override_settings

    from billing import services

    results: dict = {}
    timed(
        "migration 0009: copy into monthly partitions",
        lambda: call_command("migrate", "billing", verbosity=0),
        results,
    )
    group_by_may(results, "partitioned: GROUP BY of May")
    services.usage_partitions_ensure(now=JULY)
    collect_once(results, "partitioned: one collection of 2,000 samples")
    size = table_size()
    # 35 days before 2026-06-10 is in May: April is wholly past retention, May is kept.
    with override_settings(USAGE_RAW_RETENTION_DAYS=35):
        pruned = timed(
            "partitioned: retention of April (usage_prune: DETACH + DROP)",
            lambda: services.usage_prune(now=datetime(2026, 6, 10, tzinfo=UTC)),
            results,
        )
    results["partitioned: dropped"] = pruned.partitions_dropped
    results["partitioned: size before/after MB"] = [size // 2**20, table_size() // 2**20]
    print(f"  dropped {pruned.partitions_dropped}, rows deleted one by one {pruned.rows_deleted};"
          f" tables+indexes {results['partitioned: size before/after MB']} MB")  # fmt: skip
    return results


PHASES = {"seed": phase_seed, "plain": phase_plain, "partitioned": phase_partitioned}


def run_phase(name: str, url: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--url", url],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    head, _, tail = out.rpartition("RESULT ")
    print(head, end="", flush=True)
    return json.loads(tail)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=PHASES)
    parser.add_argument("--url")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    args = parser.parse_args()
    if args.phase:
        setup_django(args.url)
        print("RESULT " + json.dumps(PHASES[args.phase](args)))
        return 0

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        print("bench_partitions needs PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    tag = uuid.uuid4().hex[:8]
    plain_db, parted_db = f"bench_parts_{tag}_plain", f"bench_parts_{tag}_parted"
    print(f"load average at start: {os.getloadavg()}")
    results: dict = {}
    try:
        plain_url = scratch_database(base_url, plain_db)
        results.update(run_phase("seed", plain_url))
        import psycopg

        admin = base_url.replace("postgres://", "postgresql://", 1).rsplit("/", 1)[0]
        with psycopg.connect(admin + "/postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{parted_db}" TEMPLATE "{plain_db}"')
        parted_url = plain_url.rsplit("/", 1)[0] + f"/{parted_db}"
        results.update(run_phase("plain", plain_url))
        results.update(run_phase("partitioned", parted_url))
    finally:
        if not args.keep:
            scratch_database(base_url, plain_db, drop=True)
            scratch_database(base_url, parted_db, drop=True)
    print(f"load average at end: {os.getloadavg()}")
    group = results["plain: GROUP BY of May"] / results["partitioned: GROUP BY of May"]
    prune = results["plain: retention of April (batched DELETE, as before)"] / max(
        results["partitioned: retention of April (usage_prune: DETACH + DROP)"], 0.001
    )
    print(f"GROUP BY of a month: plain / partitioned = {group:.2f}x")
    print(f"retention of a month: batched DELETE / DETACH + DROP = {prune:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
