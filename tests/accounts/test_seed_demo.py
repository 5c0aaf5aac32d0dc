import io
import time

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core.management import call_command
from django.urls import reverse

from portal.management.commands import seed_demo

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def development_mode(settings):
    settings.DEBUG = True


def test_seeding_refuses_a_production_deployment(settings, django_user_model):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="published credentials"):
        call_command("seed_demo", stdout=io.StringIO())
    assert not django_user_model.objects.exists()


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_the_demo_staff_user_signs_in_with_the_printed_totp_secret(client):
    output = _seed()
    assert seed_demo.DEMO_STAFF_TOTP_SECRET in output
    response = client.post(
        reverse("account_login"),
        {"login": seed_demo.DEMO_STAFF_EMAIL, "password": seed_demo.DEMO_STAFF_PASSWORD},
    )
    assert response["Location"] == reverse("mfa_authenticate")
    if time.time() % 30 > 25:  # never type a code whose window is about to close
        time.sleep(30 - time.time() % 30 + 0.1)
    code = format_hotp_value(hotp_value(seed_demo.DEMO_STAFF_TOTP_SECRET, int(time.time()) // 30))
    client.post(reverse("mfa_authenticate"), {"code": code})
    assert client.get("/admin/").status_code == 200


def test_the_demo_owner_reaches_the_customer_dashboard(client):
    output = _seed()
    assert seed_demo.DEMO_OWNER_EMAIL in output
    client.post(
        reverse("account_login"),
        {"login": seed_demo.DEMO_OWNER_EMAIL, "password": seed_demo.DEMO_OWNER_PASSWORD},
    )
    page = client.get(reverse("dashboard"))
    assert page.status_code == 200
    assert seed_demo.DEMO_CUSTOMER_NAME in page.content.decode()


def test_seeding_twice_creates_nothing_new(django_user_model):
    _seed()
    from allauth.mfa.models import Authenticator

    from portal.customers.models import Customer

    counts = (
        django_user_model.objects.count(),
        Customer.objects.count(),
        Authenticator.objects.count(),
    )
    second = _seed()
    assert "unchanged" in second
    assert counts == (
        django_user_model.objects.count(),
        Customer.objects.count(),
        Authenticator.objects.count(),
    )
