"""CustomerTermination moves from the staff app to customers, beside its lifecycle.

Only Django's idea of the model moves: the table keeps its name (`db_table`), so nothing in the
database changes. The content type is renamed so audit entries that point at a termination
still find it.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def rename_content_type(apps, schema_editor, old="staff", new="customers"):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label=old, model="customertermination").update(app_label=new)


def restore_content_type(apps, schema_editor):
    rename_content_type(apps, schema_editor, old="customers", new="staff")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0003_country_iso_3166"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("staff", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CustomerTermination",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("state", models.CharField(choices=[("awaiting_approval", "Awaiting a second approval"), ("approved", "Approved, waiting for the grace period"), ("carried_out", "Carried out"), ("cancelled", "Cancelled")], default="awaiting_approval", max_length=20)),
                        ("reason", models.TextField()),
                        ("previous_status", models.CharField(max_length=20)),
                        ("requested_at", models.DateTimeField(auto_now_add=True)),
                        ("approved_at", models.DateTimeField(blank=True, null=True)),
                        ("delete_after", models.DateTimeField(blank=True, help_text="Approval time plus TERMINATION_GRACE_DAYS.", null=True)),
                        ("cancelled_at", models.DateTimeField(blank=True, null=True)),
                        ("carried_out_at", models.DateTimeField(blank=True, null=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("approved_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("cancelled_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("customer", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="terminations", to="customers.customer")),
                        ("requested_by", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "staff_customertermination",
                        "ordering": ["-requested_at", "-id"],
                        "indexes": [models.Index(fields=["state", "delete_after"], name="staff_custo_state_ece064_idx")],
                        "constraints": [models.UniqueConstraint(condition=models.Q(("state__in", ["awaiting_approval", "approved"])), fields=("customer",), name="termination_one_open_per_customer"), models.CheckConstraint(condition=models.Q(("approved_by__isnull", True), models.Q(("approved_by", models.F("requested_by")), _negated=True), _connector="OR"), name="termination_approver_is_not_requester")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(rename_content_type, restore_content_type),
    ]
