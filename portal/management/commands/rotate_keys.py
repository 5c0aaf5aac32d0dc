"""Re-encrypt every stored secret with the newest FIELD_ENCRYPTION_KEYS key."""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from portal.fields import EncryptedTextField
from portal.security.mfa import rotate_data

BATCH_SIZE = 500


class Command(BaseCommand):
    help = (
        "Re-encrypt every EncryptedTextField value with the first key of FIELD_ENCRYPTION_KEYS. "
        "Run after prepending a new key; the old key can be dropped once this has finished."
    )

    def handle(self, *args, **options) -> None:
        for model, names in self._encrypted_fields():
            count = self._rotate(model, names)
            self.stdout.write(
                f"{model._meta.label}: {count} rows re-encrypted ({', '.join(names)})"
            )
        count = self._rotate_authenticators()
        self.stdout.write(f"mfa.Authenticator: {count} rows re-encrypted (TOTP and recovery)")

    def _encrypted_fields(self):
        for model in apps.get_models():
            names = [
                f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)
            ]
            if names:
                yield model, names

    def _rotate(self, model, names: list[str]) -> int:
        # Reading decrypts with any listed key; writing encrypts with the first, so an update
        # with the plaintext is the rotation. One transaction per batch keeps locks short.
        count = 0
        pks = list(model.objects.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(pks), BATCH_SIZE):
            with transaction.atomic():
                rows = model.objects.filter(pk__in=pks[start : start + BATCH_SIZE])
                for row in rows.select_for_update().only("pk", *names):
                    values = {name: getattr(row, name) for name in names}
                    model.objects.filter(pk=row.pk).update(**values)
                    count += 1
        return count

    def _rotate_authenticators(self) -> int:
        # allauth keeps second-factor secrets inside a JSON column, so they are rotated by key.
        from allauth.mfa.models import Authenticator

        count = 0
        pks = list(Authenticator.objects.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(pks), BATCH_SIZE):
            with transaction.atomic():
                rows = Authenticator.objects.filter(pk__in=pks[start : start + BATCH_SIZE])
                for row in rows.select_for_update().only("pk", "data"):
                    Authenticator.objects.filter(pk=row.pk).update(data=rotate_data(row.data))
                    count += 1
        return count
