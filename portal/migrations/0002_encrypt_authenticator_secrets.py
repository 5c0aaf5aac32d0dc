"""Encrypt the TOTP secrets and recovery seeds that allauth stored in plain text."""

from django.db import migrations


def encrypt_existing(apps, schema_editor):
    from portal.security.mfa import encrypt_data

    Authenticator = apps.get_model("mfa", "Authenticator")
    for authenticator in Authenticator.objects.iterator():
        data = encrypt_data(authenticator.data)
        if data != authenticator.data:
            Authenticator.objects.filter(pk=authenticator.pk).update(data=data)


def decrypt_existing(apps, schema_editor):
    from portal.security.mfa import decrypt_data

    Authenticator = apps.get_model("mfa", "Authenticator")
    for authenticator in Authenticator.objects.iterator():
        Authenticator.objects.filter(pk=authenticator.pk).update(
            data=decrypt_data(authenticator.data)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0001_initial"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [migrations.RunPython(encrypt_existing, decrypt_existing)]
