import pytest

# Fixture modules shared across the suite; each file owns one external system.
pytest_plugins: list[str] = [
    "tests.fixtures.clock",
    "tests.fixtures.worktree",
    "tests.fixtures.worker",
    "tests.fixtures.lucidsim",
    "tests.fixtures.localstripe",
    "tests.fixtures.chaos",
]


def pytest_report_header(config) -> list[str]:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    broker = settings.CELERY_BROKER_URL.split(":", 1)[0]
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return [f"portal backends: database={engine} broker={broker} cache={cache}"]


@pytest.fixture(autouse=True)
def _no_lucidlink_pause_left_over():
    """The shared LucidLink pause lives in the cache; one test's 429 must not pause the next."""
    from provisioning.services import pause

    pause.api_pause_clear()
    yield
    pause.api_pause_clear()


@pytest.fixture
def plan_factory(db):
    from decimal import Decimal

    from portal.plans.models import Plan, StorageOwner, SubscriptionType

    def make(**overrides) -> Plan:
        count = Plan.objects.count() + 1
        fields = {
            "name": f"Plan {count}",
            "slug": f"plan-{count}",
            "storage_owner": StorageOwner.LUCIDLINK,
            "subscription_type": SubscriptionType.TEAMS,
            "provider": "IBM",
            "allowed_regions": ["us-east", "eu-de"],
            "price_per_unit_month": Decimal("0.020000"),
        }
        fields.update(overrides)
        return Plan.objects.create(**fields)

    return make


@pytest.fixture
def customer_factory(db):
    from portal.customers.models import Customer

    def make(**overrides) -> Customer:
        count = Customer.objects.count() + 1
        fields = {
            "name": f"Customer {count}",
            "name_prefix": f"cust{count}",
            "billing_email": f"billing{count}@example.com",
            "country": "GB",
        }
        fields.update(overrides)
        return Customer.objects.create(**fields)

    return make


@pytest.fixture
def filespace_factory(db, customer_factory, plan_factory):
    """A Filespace with its Order, written straight to the database (no task is sent).

    `filespace_factory(state="active", remote_id="fs-1", customer=c, plan=p, name="media")`.
    """
    from portal.orders.models import Order
    from provisioning.models import Filespace

    def make(*, customer=None, plan=None, name=None, **overrides) -> Filespace:
        customer = customer or customer_factory()
        plan = plan or plan_factory()
        name = name or f"fs{Filespace.objects.count() + 1}"
        region = overrides.pop("region", (plan.allowed_regions or ["us-east"])[0])
        state = overrides.pop("state", Filespace.State.REQUESTED)
        order_state = {
            Filespace.State.ERROR: Order.State.FAILED,
            Filespace.State.PROVISIONED: Order.State.FULFILLED,
            Filespace.State.ACTIVE: Order.State.FULFILLED,
        }.get(state, Order.State.PROVISIONING)
        order = Order.objects.create(
            customer=customer,
            plan=plan,
            name=name,
            remote_name=f"{customer.name_prefix}-{name}",
            provider=plan.provider,
            region=region,
            state=order_state,
            idempotency_key=f"factory-{name}-{Order.objects.count()}",
        )
        fields = {
            "customer": customer,
            "order": order,
            "plan": plan,
            "remote_name": order.remote_name,
            "storage_owner": plan.storage_owner,
            "subscription_type": plan.subscription_type,
            "provider": plan.provider,
            "region": region,
            "state": state,
        }
        fields.update(overrides)
        return Filespace.objects.create(**fields)

    return make


@pytest.fixture
def user_factory(db):
    """A user whose email is verified for allauth; password `correct-horse-battery-9`.

    `mfa=True` also sets up TOTP (MSP-side actions refuse staff without a second factor).
    """
    from allauth.account.models import EmailAddress
    from allauth.mfa.totp.internal.auth import TOTP
    from django.contrib.auth import get_user_model

    def make(email: str | None = None, *, mfa: bool = False, **overrides):
        model = get_user_model()
        email = email or f"user{model.objects.count() + 1}@example.com"
        user = model.objects.create_user(
            username=email, email=email, password="correct-horse-battery-9", **overrides
        )
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        if mfa:
            TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
        return user

    return make


@pytest.fixture
def member_factory(db, user_factory, customer_factory):
    """A Membership: `member_factory(role="admin", customer=c)` makes the user and customer too."""
    from portal.customers.models import Membership

    def make(*, role: str = "owner", customer=None, user=None) -> Membership:
        return Membership.objects.create(
            customer=customer or customer_factory(), user=user or user_factory(), role=role
        )

    return make
