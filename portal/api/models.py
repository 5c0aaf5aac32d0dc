from django.db import models


class IdempotentResponse(models.Model):
    """The first answer to a POST sent with an Idempotency-Key, replayed to every retry.

    Scoped to the customer the request acts for, like the order's own idempotency key, so two
    organisations can use the same key without meeting.
    """

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    endpoint = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    # The JSON text as first sent: replays answer byte for byte (jsonb would reorder keys).
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "endpoint", "key"], name="api_idempotent_response_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.key} -> {self.status_code}"
