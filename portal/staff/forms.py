"""Staff console forms: every input is validated here with a message that says what to fix."""

import re
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from billing import rating
from billing.services.pricing import plan_terms
from portal.customers.models import Customer
from portal.plans.models import BillingUnit, Plan, QuantityRule, StorageOwner, SubscriptionType
from portal.plans.services import PLAN_FIELDS
from provisioning import rules

REASON_MAX = 1000


class CustomerFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Customer.Status.choices]
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Give a reason; it is kept in the audit log."},
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError("Give a reason; it is kept in the audit log.")
        return reason


class OptionalReasonForm(forms.Form):
    reason = forms.CharField(
        required=False, max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )


# Which LucidLink storage each subscription type implies (contract, "Validation").
_PROVIDER_FOR_TYPE = {
    SubscriptionType.BASIC: "Wasabi",
    SubscriptionType.TEAMS: "IBM",
    SubscriptionType.ENTERPRISE: "IBM",
}
# Changing these on a plan that has orders would change what those orders meant.
STORAGE_FIELDS = ("storage_owner", "subscription_type", "provider", "currency", "billing_unit")


class PlanForm(forms.ModelForm):
    allowed_regions = forms.CharField(
        required=False,
        max_length=500,
        help_text="Region codes customers may pick, separated by commas; empty means any valid "
        "region of the provider.",
    )
    provider = forms.ChoiceField(choices=[(p, p) for p in rules.PROVIDERS])

    class Meta:
        model = Plan
        # The same list the audit snapshot records, so every edit staff can make is logged.
        fields = list(PLAN_FIELDS)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["allowed_regions"] = ", ".join(self.instance.allowed_regions or [])
        # Optional: a plan whose LucidLink cost is not known keeps 0 (only the back-test reads it).
        self.fields["cost_per_gib_month"].required = False
        self.has_orders = bool(self.instance.pk) and self.instance.orders.exists()
        if self.has_orders:
            for name in STORAGE_FIELDS:
                self.fields[name].disabled = True
                self.fields[name].help_text = (
                    "Fixed: this plan already has orders. Create a new plan to sell different "
                    "storage."
                )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError("Enter the name customers will see.")
        return name

    def clean_cost_per_gib_month(self) -> Decimal:
        cost = self.cleaned_data.get("cost_per_gib_month")
        return Decimal(0) if cost is None else cost

    def clean_currency(self) -> str:
        currency = (self.cleaned_data.get("currency") or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ValidationError("Use a three-letter ISO 4217 code such as USD or EUR.")
        return currency

    def clean_allowed_regions(self) -> list[str]:
        raw = self.cleaned_data.get("allowed_regions") or ""
        regions = [part.strip() for part in raw.split(",") if part.strip()]
        if len(set(regions)) != len(regions):
            raise ValidationError("Each region once, please.")
        return regions

    def clean(self) -> dict:
        data = super().clean()
        owner = data.get("storage_owner")
        kind = data.get("subscription_type")
        provider = data.get("provider")
        if owner and kind:
            if kind == SubscriptionType.CUSTOM and owner != StorageOwner.CUSTOMER:
                self.add_error("storage_owner", "A custom subscription uses the customer's bucket.")
            if kind != SubscriptionType.CUSTOM and owner == StorageOwner.CUSTOMER:
                self.add_error(
                    "subscription_type", "The customer's own bucket needs the custom subscription."
                )
        expected = _PROVIDER_FOR_TYPE.get(kind)
        if expected and provider and provider != expected:
            self.add_error(
                "provider", f"The {kind} subscription stores data with {expected}; choose it."
            )
        if provider and "allowed_regions" in data:
            valid = rules.regions_for(provider)
            unknown = [r for r in data["allowed_regions"] if valid and r not in valid]
            if unknown:
                self.add_error(
                    "allowed_regions",
                    f"{provider} has no region {', '.join(unknown)}. "
                    f"Choose from: {', '.join(valid)}.",
                )
        return data


class BacktestForm(forms.Form):
    """A plan, a past month and, optionally, draft terms that replace the plan's own."""

    plan = forms.ModelChoiceField(
        queryset=Plan.objects.order_by("name", "pk"),
        label="Plan",
        help_text="Customers on plans selling the same storage (owner and provider) in its "
        "currency are compared.",
    )
    month = forms.CharField(
        label="Month",
        widget=forms.TextInput(attrs={"type": "month"}),
        help_text="A month that has ended, e.g. 2026-10.",
    )
    price_per_unit_month = forms.DecimalField(
        required=False, min_value=0, max_digits=12, decimal_places=6,
        label="Draft price per unit-month", help_text="Blank: the plan's price.",
    )  # fmt: skip
    billing_unit = forms.ChoiceField(
        required=False, choices=[("", "The plan's unit"), *BillingUnit.choices], label="Draft unit"
    )
    quantity_rule = forms.ChoiceField(
        required=False,
        choices=[("", "The plan's rule"), *QuantityRule.choices],
        label="Draft quantity rule",
    )
    included_units = forms.DecimalField(
        required=False, min_value=0, max_digits=14, decimal_places=6,
        label="Draft included units", help_text="Blank: the plan's allowance.",
    )  # fmt: skip
    minimum_monthly_charge = forms.DecimalField(
        required=False, min_value=0, max_digits=12, decimal_places=2,
        label="Draft minimum monthly charge", help_text="Blank: the plan's minimum.",
    )  # fmt: skip
    cost_per_gib_month = forms.DecimalField(
        required=False, min_value=0, max_digits=12, decimal_places=6,
        label="LucidLink cost per GiB-month", help_text="Blank: the plan's cost.",
    )  # fmt: skip

    DRAFT_FIELDS = (
        "price_per_unit_month", "billing_unit", "quantity_rule", "included_units",
        "minimum_monthly_charge",
    )  # fmt: skip

    def clean_month(self) -> tuple[datetime, datetime]:
        text = self.cleaned_data["month"].strip()
        match = re.fullmatch(r"(\d{4})-(\d{2})", text)
        if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
            raise ValidationError("Write the month as YYYY-MM, e.g. 2026-10.")
        start, end = rating.month_bounds(int(match[1]), int(match[2]))
        if end > timezone.now():
            raise ValidationError("Pick a month that has ended: its usage is complete.")
        return start, end

    def is_draft(self) -> bool:
        return any(self.cleaned_data.get(name) not in (None, "") for name in self.DRAFT_FIELDS)

    def candidate(self) -> tuple[rating.PlanTerms, Decimal]:
        """The terms to try (the plan's, each draft field replacing its own) and the cost."""
        data = self.cleaned_data
        plan = data["plan"]
        terms = plan_terms(plan)
        draft = {name: data[name] for name in self.DRAFT_FIELDS if data.get(name) not in (None, "")}
        renamed = {"billing_unit": "unit"}
        terms = replace(terms, **{renamed.get(k, k): v for k, v in draft.items()})
        cost = data.get("cost_per_gib_month")
        return terms, plan.cost_per_gib_month if cost is None else cost
