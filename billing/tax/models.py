"""Billing profiles, tax rates and what an issued invoice says about seller and buyer."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django_countries.fields import CountryField

from billing.models import Invoice, InvoiceLockedError


class BillingProfile(models.Model):
    """Who the customer's invoices are addressed to, and their VAT/GST number."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="billing_profile"
    )
    legal_name = models.CharField(max_length=200)
    address_line1 = models.CharField(max_length=200)
    address_line2 = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100)
    region = models.CharField(max_length=100, blank=True)
    country = CountryField()
    # Compact and validated for the country (billing.tax.numbers); empty: none given.
    tax_number = models.CharField(max_length=40, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.legal_name} ({self.country})"

    @property
    def address_lines(self) -> list[str]:
        place = " ".join(part for part in (self.postal_code, self.city) if part)
        lines = [self.address_line1, self.address_line2, place, self.region]
        return [line for line in lines if line]


class TaxRate(models.Model):
    """A country's rate from `valid_from` until the next row of the same country."""

    country = CountryField()
    name = models.CharField(max_length=20, default="VAT", help_text="VAT, GST, ...")
    percent = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal("99.999"))],
    )
    valid_from = models.DateField()
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["country", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["country", "valid_from"], name="tax_rate_one_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.name} {self.percent} % from {self.valid_from}"


class InvoiceDocument(models.Model):
    """What an invoice says besides its lines, frozen with it: seller, buyer, tax wording.

    Written when the draft's tax is computed and again at finalization, never after, so a
    later change of the profile, the rates or the MSP's settings never rewrites an issued
    invoice. `emailed_at` marks the finalization email as sent (claimed once).
    """

    invoice = models.OneToOneField(Invoice, on_delete=models.CASCADE, related_name="document")
    seller = models.JSONField(default=dict)
    buyer = models.JSONField(default=dict)
    treatment = models.CharField(max_length=20, blank=True)
    tax_note = models.TextField(blank=True)
    tax_date = models.DateField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"document of invoice {self.invoice_id}"

    def save(self, *args, **kwargs):
        # The email claim is an UPDATE of emailed_at only; everything else freezes with the
        # invoice.
        status = Invoice.objects.filter(pk=self.invoice_id).values_list("status", flat=True)
        if status.first() == Invoice.Status.FINALIZED:
            raise InvoiceLockedError("The document of a finalized invoice never changes.")
        super().save(*args, **kwargs)
