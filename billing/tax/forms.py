from django import forms
from django_countries import countries
from django_countries.fields import LazyTypedChoiceField

from billing.tax.services import PROFILE_FIELDS


class BillingProfileForm(forms.Form):
    """The page's fields; the action (billing_profile.update) holds the rules."""

    legal_name = forms.CharField(max_length=200, help_text="As registered; printed on invoices.")
    address_line1 = forms.CharField(max_length=200, label="Address")
    address_line2 = forms.CharField(max_length=200, required=False, label="Address (line 2)")
    postal_code = forms.CharField(max_length=20, required=False)
    city = forms.CharField(max_length=100)
    region = forms.CharField(max_length=100, required=False, label="Region or state")
    country = LazyTypedChoiceField(choices=countries)
    tax_number = forms.CharField(
        max_length=40,
        required=False,
        label="VAT or GST number",
        help_text="EU VAT numbers with or without the country prefix (DE136695976); "
        "ABN in Australia, GST/IRD number in New Zealand, GSTIN in India.",
    )

    field_order = [*PROFILE_FIELDS, "country", "tax_number"]


class TaxRateForm(forms.Form):
    country = LazyTypedChoiceField(choices=countries)
    name = forms.CharField(max_length=20, initial="VAT", help_text="VAT, GST, ...")
    percent = forms.DecimalField(max_digits=6, decimal_places=3, min_value=0, max_value=99.999,
                                 label="Rate (%)")  # fmt: skip
    valid_from = forms.DateField(
        help_text="First day it applies (YYYY-MM-DD). Invoices use the rate in force on the "
        "last day of the billed month.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    note = forms.CharField(max_length=200, required=False)
