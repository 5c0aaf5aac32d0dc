from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class AppendOnlyError(Exception):
    """An audit entry was about to be changed or removed; the log only grows."""


class AuditEntryQuerySet(models.QuerySet):
    def delete(self):
        raise AppendOnlyError("Audit entries cannot be deleted.")

    delete.queryset_only = True


class AuditEntry(models.Model):
    """One staff or system action on customer data: who, when, what, before and after.

    Rows are written by `portal.audit.services.audit_record` and never changed: `save()` refuses
    an existing row and `delete()` refuses always. The actor's and customer's names are copied
    at write time so the entry still reads correctly after either is renamed or removed.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(max_length=254, help_text="The actor's email, or 'system'.")
    # customer, msp or system, copied at write time: how the entry is shown to a customer
    # depends on it (portal.audit.display), and it must not change when a user's flags do.
    actor_side = models.CharField(max_length=10, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    customer_label = models.CharField(max_length=200, blank=True)
    target_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    note = models.TextField(blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["customer", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Audit entries cannot be changed once written.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit entries cannot be deleted.")

    @property
    def is_system(self) -> bool:
        return self.actor_id is None and self.actor_label == "system"

    @property
    def actor_for_customer(self) -> str:
        """The actor as the customer sees it (MSP staff masked); see portal.audit.display."""
        from portal.audit.display import actor_shown_to_customer

        return actor_shown_to_customer(self)

    @property
    def changes(self) -> list[tuple[str, object, object]]:
        """(field, before, after) for every key in either side, sorted by key (PostgreSQL's
        jsonb does not keep the order keys were written in)."""
        before = self.before or {}
        after = self.after or {}
        return [(key, before.get(key), after.get(key)) for key in sorted({*before, *after})]
