"""CustomerTermination now belongs to the customers app (customers 0004); its table stays."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0001_initial"),
        ("customers", "0004_h13_customertermination"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="CustomerTermination")],
            database_operations=[],
        ),
    ]
