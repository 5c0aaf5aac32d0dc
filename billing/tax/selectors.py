"""Reads of billing profiles and tax rates for pages and for invoice tax."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

from billing.tax.models import BillingProfile, TaxRate


def profile_for(*, customer) -> BillingProfile | None:
    return BillingProfile.objects.filter(customer=customer).first()


def rate_in_force(*, country: str, on: date) -> TaxRate | None:
    """The country's rate with the latest `valid_from` on or before `on`."""
    return (
        TaxRate.objects.filter(country=country, valid_from__lte=on).order_by("-valid_from").first()
    )


def tax_rates() -> QuerySet[TaxRate]:
    """Staff only: every rate, newest first within each country."""
    return TaxRate.objects.select_related("updated_by").order_by("country", "-valid_from")
