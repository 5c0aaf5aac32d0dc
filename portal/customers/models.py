import re

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.text import slugify
from django_countries.fields import CountryField

from portal.customers.termination import CustomerTermination

__all__ = ["CustomerTermination"]  # a model of this app, kept beside its lifecycle


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
    country = CountryField(help_text="ISO 3166-1 alpha-2 code")
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


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    BILLING = "billing", "Billing"
    MEMBER = "member", "Member"


# Who may do what. Owners and admins order, invite and delete; billing sees invoices and usage;
# everyone sees the customer's filespaces.
MANAGER_ROLES = frozenset({Role.OWNER, Role.ADMIN})
BILLING_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.BILLING})
ALL_ROLES = frozenset(Role)


class Membership(models.Model):
    """A person's seat in a customer, with the role that decides what they may do."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["customer__name", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "user"], name="membership_unique_per_customer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.customer} ({self.role})"

    @property
    def can_manage(self) -> bool:
        return self.role in MANAGER_ROLES

    @property
    def can_see_billing(self) -> bool:
        return self.role in BILLING_ROLES


class Invitation(models.Model):
    """An emailed offer to join a customer. Only a hash of the token is stored."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open invitation per address and customer; a resend replaces it.
            models.UniqueConstraint(
                fields=["customer", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.customer}"

    def is_expired(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires_at

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and not self.is_expired()
