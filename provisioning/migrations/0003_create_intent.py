from django.db import migrations, models
from django.db.models import F


def backfill_intent(apps, schema_editor):
    """Rows made before the intent was recorded: any attempt may have sent a POST."""
    Filespace = apps.get_model("provisioning", "Filespace")
    Filespace.objects.filter(attempts__gt=0, create_sent_at__isnull=True).update(
        create_sent_at=F("requested_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0002_managed_operations"),
    ]

    operations = [
        migrations.AddField(
            model_name="filespace",
            name="create_sent_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(backfill_intent, migrations.RunPython.noop),
    ]
