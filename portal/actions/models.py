from django.db import models
from django.utils import timezone


class OutboxEvent(models.Model):
    """A fact an action caused that the outside world must hear about (a webhook event).

    Written by the action in its own transaction, so the fact and the change it reports commit
    together or not at all. The relay (`portal.webhooks.tasks.relay_outbox`, enqueued on commit
    and swept by beat) turns each unrelayed row into one webhook event with one delivery per
    interested subscription and then marks it relayed; the dedupe key makes a second relay of
    the same row a no-op, so a crash anywhere after the commit delays the event, never loses or
    doubles it.
    """

    event_type = models.CharField(max_length=40)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    subject_type = models.CharField(max_length=40, help_text="order, filespace, invoice, customer")
    subject_id = models.BigIntegerField()
    facts = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    relayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(relayed_at__isnull=True),
                name="outbox_unrelayed_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.subject_type} {self.subject_id}"
