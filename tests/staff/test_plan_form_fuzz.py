"""The staff plan form never crashes on any input, and whatever it accepts obeys the contract."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from portal.plans.models import BillingUnit, QuantityRule, StorageOwner, SubscriptionType
from portal.staff.forms import PlanForm
from provisioning import rules
from tests.reach import Reach

pytestmark = pytest.mark.django_db

ANY = st.one_of(
    st.text(max_size=30),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(StorageOwner.values + SubscriptionType.values + list(rules.PROVIDERS)),
)
FIELDS = [
    "name", "slug", "storage_owner", "subscription_type", "provider", "allowed_regions",
    "currency", "price_per_unit_month", "included_units", "minimum_monthly_charge",
]  # fmt: skip


def valid_plan_data() -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {
            "name": st.sampled_from(["Teams", "Media Pro"]),
            "slug": st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True),
            "storage_owner": st.just(StorageOwner.LUCIDLINK),
            "subscription_type": st.just(SubscriptionType.TEAMS),
            "provider": st.just("IBM"),
            "allowed_regions": st.lists(st.sampled_from(rules.REGIONS["IBM"]), unique=True).map(
                ", ".join
            ),
            "currency": st.sampled_from(["USD", "eur", "Gbp"]),
            "price_per_unit_month": st.decimals(0, 100, places=6).map(str),
            "billing_unit": st.just(BillingUnit.GB),
            "quantity_rule": st.just(QuantityRule.TIME_WEIGHTED),
            "included_units": st.decimals(0, 1000, places=2).map(str),
            "minimum_monthly_charge": st.decimals(0, 1000, places=2).map(str),
        }
    )


@st.composite
def plan_data(draw) -> dict:
    """A valid form with zero to three fields replaced by arbitrary values."""
    data = draw(valid_plan_data())
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        data[field] = draw(ANY)
    return data


def test_any_input_is_either_refused_with_errors_or_a_consistent_plan():
    reach = Reach("accepted")

    @settings(
        max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(data=plan_data())
    def check(data):
        reach.tried()
        form = PlanForm(data=data)
        if not form.is_valid():
            assert form.errors
            event("refused")
            return
        reach.reached()
        plan = form.save(commit=False)
        plan.full_clean()
        assert plan.name.strip()
        assert len(plan.currency) == 3 and plan.currency.isascii() and plan.currency.isupper()
        assert plan.price_per_unit_month >= Decimal(0)
        assert plan.included_units >= 0 and plan.minimum_monthly_charge >= 0
        assert (plan.subscription_type == "custom") == (plan.storage_owner == "customer")
        if plan.subscription_type == "basic":
            assert plan.provider == "Wasabi"
        if plan.subscription_type in ("teams", "enterprise"):
            assert plan.provider == "IBM"
        known = rules.regions_for(plan.provider)
        assert not known or set(plan.allowed_regions) <= set(known)

    check()
    reach.assert_share(0.25)
