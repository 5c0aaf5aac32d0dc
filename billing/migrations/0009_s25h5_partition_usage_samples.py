"""UsageSample partitioned by month on PostgreSQL (docs/scaling.md); SQLite keeps the plain table.

The model's state does not change: Django keeps ``id`` as the primary key and the same named
unique constraint and indexes; only the table under them becomes partitioned. The rows are
copied in this migration's transaction (the table is locked meanwhile).
"""

from datetime import UTC, datetime

from django.db import migrations

MONTHS_AHEAD = 2


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from billing import partitions

    this_month = partitions.month_start(datetime.now(tz=UTC))
    months = [partitions.add_months(this_month, n) for n in range(MONTHS_AHEAD + 1)]
    with schema_editor.connection.cursor() as cursor:
        partitions.convert(cursor, months=months)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from billing import partitions

    with schema_editor.connection.cursor() as cursor:
        partitions.revert(cursor)


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0008_merge_s23"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
