from django.db import migrations


def create_sequences(apps, schema_editor):
    # The counter rows exist before the first finalization, so two first finalizations at once
    # both lock the same row instead of racing to create it.
    InvoiceSequence = apps.get_model("billing", "InvoiceSequence")
    for name in ("INV", "CN"):
        InvoiceSequence.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(create_sequences, migrations.RunPython.noop)]
