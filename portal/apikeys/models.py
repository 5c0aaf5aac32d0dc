from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    """A bearer key for the REST API. Only a SHA-256 hash of the key is stored.

    An MSP key (no customer) reaches every customer; a customer key reaches one organisation.
    The key itself is shown once, when it is created; `prefix` lets people tell keys apart.
    """

    name = models.CharField(max_length=100)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_keys",
        help_text="Empty for an MSP key, which reaches every customer.",
    )
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def __repr__(self) -> str:
        return f"<ApiKey id={self.pk} prefix={self.prefix!r} customer_id={self.customer_id}>"

    @property
    def is_msp(self) -> bool:
        return self.customer_id is None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
