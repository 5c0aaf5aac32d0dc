import pytest

# Fixture modules shared across the suite; each file owns one external system.
pytest_plugins: list[str] = ["tests.fixtures.worker"]


def pytest_report_header(config) -> list[str]:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    broker = settings.CELERY_BROKER_URL.split(":", 1)[0]
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return [f"portal backends: database={engine} broker={broker} cache={cache}"]


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
