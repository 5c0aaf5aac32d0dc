import re

from django.conf import settings
from django.db import models
from django.utils.text import slugify


class Customer(models.Model):
    """An organisation that buys filespaces from the MSP."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        TERMINATED = "terminated", "Terminated"

    name = models.CharField(max_length=200)
    # Every filespace name of this customer starts with this prefix, so two customers of the
    # MSP's single LucidLink domain can never ask for the same name.
    name_prefix = models.SlugField(max_length=20, unique=True)
    billing_email = models.EmailField()
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @staticmethod
    def prefix_candidate(name: str) -> str:
        """A lowercase, hyphen-free start for a prefix derived from the company name."""
        slug = re.sub(r"[^a-z0-9]", "", slugify(name))
        return (slug or "org")[:12]
