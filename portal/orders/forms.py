"""The order form: plan -> name -> provider and region -> own storage -> review -> place."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from portal.customers.models import Customer
from portal.plans.models import Plan
from provisioning import rules

MAX_EXPECTED_UNITS = Decimal(10_000_000)


# Any 30-day month: a steady level costs the same under every quantity rule.
_ESTIMATE_MONTH = (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))


@dataclass(frozen=True)
class Estimate:
    """A month's charge, what the usage alone would cost, and whether the minimum decides it."""

    amount: Decimal
    usage: Decimal
    is_minimum: bool


def estimate_monthly(*, plan: Plan, expected_units: Decimal | None) -> Decimal | None:
    """The estimated charge alone (see `estimate_for`)."""
    estimate = estimate_for(plan=plan, expected_units=expected_units)
    return estimate.amount if estimate else None


def estimate_for(*, plan: Plan, expected_units: Decimal | None) -> Estimate | None:
    """A month's charge for a steady `expected_units`, rated by billing's own rules.

    The estimate goes through `billing.rating.rate_usage` (included units, price tiers,
    rounding) and the plan's minimum, so it agrees with what an invoice would say.
    """
    from billing import rating
    from billing.services.invoices import BillingError, plan_terms

    if expected_units is None:
        return None
    try:
        terms = plan_terms(plan)
    except BillingError:
        return None  # Staff must fix the plan's tiers; the review says "depends on usage".
    start, end = _ESTIMATE_MONTH
    used = int(expected_units * rating.UNIT_BYTES[plan.billing_unit])
    samples = [rating.Sample(start + timedelta(days=day), used) for day in range(30)]
    line = rating.rate_usage(
        terms=terms,
        samples=samples,
        window_start=start,
        window_end=end,
        month_start=start,
        month_end=end,
        slot_seconds=86400,
    )
    return Estimate(
        amount=max(line.amount, line.minimum_prorated),
        usage=line.amount,
        is_minimum=line.minimum_prorated > line.amount,
    )


def providers_for(plan: Plan) -> tuple[str, ...]:
    """Providers a plan can be ordered with: the plan names its storage provider."""
    return (plan.provider,)


def regions_for(plan: Plan, provider: str) -> tuple[str, ...]:
    """The region choices for this plan and provider; empty means the customer types one."""
    return tuple(plan.allowed_regions or ()) or rules.regions_for(provider)


class OrderForm(forms.Form):
    name = forms.CharField(
        label="Filespace name",
        max_length=100,
        error_messages={"required": "Enter a name for the filespace."},
        help_text="Lowercase letters, digits and hyphens.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    provider = forms.ChoiceField(label="Storage provider")
    region = forms.CharField(
        label="Region", max_length=64, error_messages={"required": "Enter a region."}
    )
    bucket = forms.CharField(label="Bucket name", max_length=63, required=False)
    endpoint = forms.CharField(
        label="Endpoint",
        max_length=255,
        required=False,
        help_text="Only for Zadara, Cloudian and Other, for example https://s3.example.net:443.",
    )
    access_key = forms.CharField(label="Access key ID", max_length=256, required=False)
    secret_key = forms.CharField(
        label="Secret access key",
        max_length=256,
        required=False,
        strip=False,
        help_text="Stored encrypted and never shown again.",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    expected_units = forms.DecimalField(
        label="Expected storage",
        required=False,
        min_value=Decimal(0),
        max_value=MAX_EXPECTED_UNITS,
        max_digits=14,
        decimal_places=3,
        help_text="Optional, for the price estimate.",
    )

    def __init__(
        self, *args, plan: Plan, customer: Customer, keys_kept: bool = False, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.customer = customer
        # Coming back from the review: the bucket keys typed then are kept unless replaced.
        self.keys_kept = keys_kept
        self.fields["name"].help_text = (
            f"{rules.NAME_MIN} to {rules.max_name_length(prefix=customer.name_prefix)} "
            "characters: lowercase letters, digits and hyphens, not starting or ending with a "
            "hyphen. The name is part of the filespace's address and cannot be changed later."
        )
        providers = providers_for(plan)
        self.fields["provider"].choices = [(p, p) for p in providers]
        self.fields["provider"].initial = providers[0] if len(providers) == 1 else plan.provider
        self.fields["expected_units"].label = f"Expected storage ({plan.billing_unit})"
        if not plan.is_own_storage:
            for field in ("bucket", "endpoint", "access_key", "secret_key"):
                del self.fields[field]
        else:
            self.fields["bucket"].required = True
            for field in ("access_key", "secret_key"):
                self.fields[field].required = not keys_kept
                if keys_kept:
                    self.fields[field].help_text = (
                        "Leave empty to keep the key you typed before; "
                        "type a new one to replace it."
                    )
        # Shown only where the provider takes one; a posted endpoint is still checked (refused).
        self.endpoint_allowed = self._provider() in rules.ENDPOINT_PROVIDERS
        self.region_choices = regions_for(plan, self._provider())
        if self.region_choices:
            self.fields["region"] = forms.ChoiceField(
                label="Region",
                error_messages={"required": "Choose a region."},
                choices=[("", "Choose a region")]
                + [
                    (r, rules.region_label(provider=self._provider(), region=r))
                    for r in self.region_choices
                ],
            )

    def _provider(self) -> str:
        if self.is_bound:
            value = self.data.get("provider", "")
            if value in dict(self.fields["provider"].choices):
                return value
        return self.fields["provider"].initial or ""

    def clean(self) -> dict:
        """The service's own checks (contract, plan, availability), shown on the fields."""
        from provisioning.services.ordering import order_validate

        data = super().clean()
        values = {
            field: data.get(field, self.data.get(field, "")) or ""
            for field in ("name", "provider", "region", "bucket", "endpoint", "access_key")
        }
        try:
            self.remote_name = order_validate(
                customer=self.customer,
                plan=self.plan,
                secret_key=data.get("secret_key") or "",
                **values,
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                target = field if field in self.fields else None
                if target and target in self.errors:
                    continue  # The field's own check already said what is wrong.
                for message in messages:
                    self.add_error(target, message)
        return data


class PlaceForm(forms.Form):
    idempotency_key = forms.RegexField(regex=r"^[0-9a-f]{32}$", widget=forms.HiddenInput)
