"""Monthly partitions of the usage samples table on PostgreSQL (docs/scaling.md).

On PostgreSQL ``billing_usagesample`` is ``PARTITION BY RANGE (slot)``: one partition per UTC
month, named ``billing_usagesample_YYYY_MM`` for ``[YYYY-MM-01, next month)``, and a DEFAULT
partition that takes any slot outside the created months, so an insert never fails. Retention
detaches and drops a whole month instead of deleting its rows one by one.

The table's primary key there is ``(id, slot)`` (PostgreSQL wants the partition key in every
unique key); Django keeps ``id`` as the model's primary key, which stays unique because one
sequence issues the ids. The unique key ``(filespace_id, slot)`` holds the partition key
already, so ``INSERT ... ON CONFLICT DO NOTHING`` dedups as before.

Only SQL over a cursor here, no models: the migration that converts the table runs these too.
SQLite keeps the plain table; every function here is for PostgreSQL only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

TABLE = "billing_usagesample"
DEFAULT = f"{TABLE}_default"
NAME = re.compile(rf"^{TABLE}_(\d{{4}})_(\d{{2}})$")


def month_start(moment: datetime | date) -> date:
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date()
    return moment.replace(day=1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def bound(month: date) -> datetime:
    """The first instant of a month, UTC: a partition's bound."""
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def partition_name(month: date) -> str:
    return f"{TABLE}_{month.year:04d}_{month.month:02d}"


def _settle(cursor) -> None:
    """Check now the deferred foreign keys of rows this transaction wrote.

    PostgreSQL refuses to alter a table with pending trigger events, and Django's foreign keys
    are INITIALLY DEFERRED; a job that runs in its own transaction has none, a test that wrote
    samples first has some. They stay immediate for the rest of the transaction.
    """
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def is_partitioned(cursor) -> bool:
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
    row = cursor.fetchone()
    return row is not None and row[0] == "p"


def months_present(cursor) -> dict[date, str]:
    """The monthly partitions that exist, by month (only those named by this module)."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass(%s)",
        [TABLE],
    )
    months = {}
    for (name,) in cursor.fetchall():
        match = NAME.match(name)
        if match:
            months[date(int(match[1]), int(match[2]), 1)] = name
    return months


def months_in_default(cursor) -> list[date]:
    """The months of the rows the DEFAULT partition holds (it is small: rows of missed months)."""
    cursor.execute(
        f"SELECT DISTINCT date_trunc('month', slot AT TIME ZONE 'UTC')::date FROM {DEFAULT}"  # noqa: S608
    )
    return sorted(row[0] for row in cursor.fetchall())


def ensure(cursor, *, months: Iterable[date]) -> list[str]:
    """Create the partition of each month that has none; return the names created.

    Idempotent: a month that has its partition is skipped without a lock. A month whose rows
    went to DEFAULT (it had no partition when they arrived) cannot simply get its partition
    (PostgreSQL refuses: the DEFAULT partition would hold rows of the new range), so those rows
    are moved: under a lock that holds inserts back, they are deleted from DEFAULT into a
    temporary table, the partition is created and they are inserted again, ids unchanged. The
    caller's transaction makes that all or nothing.
    """
    created = []
    present = months_present(cursor)
    for month in sorted({month_start(m) for m in months}):
        if month in present:
            continue
        name = partition_name(month)
        lower, upper = bound(month), bound(add_months(month, 1))
        _settle(cursor)
        # SHARE ROW EXCLUSIVE: inserts (ROW EXCLUSIVE) wait, and so does another ensure().
        cursor.execute(f"LOCK TABLE {TABLE} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if cursor.fetchone()[0]:
            continue  # another ensure() created it while this one waited
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} WHERE slot >= %s AND slot < %s)",  # noqa: S608
            [lower, upper],
        )
        stranded = cursor.fetchone()[0]
        if stranded:
            cursor.execute(f"CREATE TEMPORARY TABLE _usage_moving (LIKE {DEFAULT})")
            cursor.execute(
                f"WITH moved AS (DELETE FROM {DEFAULT} WHERE slot >= %s AND slot < %s"  # noqa: S608
                " RETURNING *) INSERT INTO _usage_moving SELECT * FROM moved",
                [lower, upper],
            )
        cursor.execute(
            f"CREATE TABLE {name} PARTITION OF {TABLE} FOR VALUES FROM (%s) TO (%s)",
            [lower, upper],
        )
        if stranded:
            cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM _usage_moving")  # noqa: S608
            cursor.execute("DROP TABLE _usage_moving")
        created.append(name)
    return created


def drop_before(cursor, *, before: date) -> list[str]:
    """Detach and drop every monthly partition that ends on or before ``before`` (a month start).

    A metadata change: no row is deleted one by one, no WAL per row, nothing left to vacuum.
    Rows of those months that sit in DEFAULT are the caller's to delete.
    """
    dropped = []
    for month, name in sorted(months_present(cursor).items()):
        if add_months(month, 1) <= before:
            _settle(cursor)
            cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
            cursor.execute(f"DROP TABLE {name}")
            dropped.append(name)
    return dropped


def _lock_and_read_shape(cursor) -> tuple[list, list]:
    """Lock the samples table and read its constraints and its other indexes (name, SQL)."""
    _settle(cursor)
    cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    cursor.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = to_regclass(%s) AND contype IN ('p', 'u', 'f') ORDER BY conname",
        [TABLE],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname",
        [TABLE],
    )
    owned = {name for name, _, _ in constraints}
    indexes = [(name, sql) for name, sql in cursor.fetchall() if name not in owned]
    return constraints, indexes


def _free_names(cursor, constraints, indexes) -> None:
    """Drop the table's constraints and indexes: their names are per schema."""
    for name, _, _ in constraints:
        cursor.execute(f'ALTER TABLE {TABLE} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')


def _restore_names(cursor, constraints, indexes, *, primary_key: str) -> None:
    """The constraints and indexes again, on the new table, with the given primary key."""
    for name, kind, definition in constraints:
        if kind == "p":
            definition = primary_key
        cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')
    for _, sql in indexes:
        cursor.execute(sql)


def convert(cursor, *, months: Iterable[date]) -> None:
    """Turn the plain samples table into the partitioned one, keeping every row and its id.

    Run once, by the migration, inside its transaction: the rows are copied into monthly
    partitions (one per month that has rows, plus ``months``), the sequence continues from the
    highest id, the old table is dropped. The indexes and constraints keep their names; the
    primary key becomes (id, slot).
    """
    if is_partitioned(cursor):
        return
    old = f"{TABLE}_unpartitioned"
    constraints, indexes = _lock_and_read_shape(cursor)
    cursor.execute(f"SELECT min(slot), max(slot), coalesce(max(id), 0) FROM {TABLE}")  # noqa: S608
    first, last, top = cursor.fetchone()

    # Free the names (indexes and constraints are named per schema) and the identity sequence.
    _free_names(cursor, constraints, indexes)
    cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id DROP IDENTITY IF EXISTS")
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {old}")

    # The same columns in the same order, NOT NULL and CHECK constraints included.
    cursor.execute(
        f"CREATE TABLE {TABLE} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        " PARTITION BY RANGE (slot)"
    )
    cursor.execute(f"CREATE SEQUENCE {TABLE}_id_seq AS bigint OWNED BY {TABLE}.id")
    cursor.execute(f"SELECT setval('{TABLE}_id_seq', %s, false)", [top + 1])
    cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{TABLE}_id_seq')")
    cursor.execute(f"CREATE TABLE {DEFAULT} PARTITION OF {TABLE} DEFAULT")
    wanted = set(months)
    if first is not None:
        month = month_start(first)
        while month <= month_start(last):
            wanted.add(month)
            month = add_months(month, 1)
    ensure(cursor, months=wanted)
    cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {old}")  # noqa: S608

    _restore_names(cursor, constraints, indexes, primary_key="PRIMARY KEY (id, slot)")
    cursor.execute(f"DROP TABLE {old}")
    cursor.execute(f"ANALYZE {TABLE}")


def revert(cursor) -> None:
    """The migration's reverse: a plain table again, every row and id kept."""
    if not is_partitioned(cursor):
        return
    old = f"{TABLE}_partitioned"
    constraints, indexes = _lock_and_read_shape(cursor)
    cursor.execute(f"SELECT coalesce(max(id), 0) FROM {TABLE}")  # noqa: S608
    top = cursor.fetchone()[0]
    _free_names(cursor, constraints, indexes)
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {old}")
    cursor.execute(f"ALTER SEQUENCE {TABLE}_id_seq RENAME TO {old}_id_seq")
    cursor.execute(f"CREATE TABLE {TABLE} (LIKE {old} INCLUDING CONSTRAINTS)")
    cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
    cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)", [TABLE, top + 1])
    cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {old}")  # noqa: S608
    _restore_names(cursor, constraints, indexes, primary_key="PRIMARY KEY (id)")
    cursor.execute(f"DROP TABLE {old}")
    cursor.execute(f"ANALYZE {TABLE}")
