"""One person cannot turn the portal into a spam relay in the MSP's name (issue #16)."""

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from portal.customers import services
from portal.customers.models import Customer, Invitation

pytestmark = pytest.mark.django_db


def test_a_person_can_create_only_the_configured_number_of_organisations(
    client, user_factory, settings
):
    settings.ORGANISATIONS_PER_USER = 2
    user = user_factory()
    client.force_login(user)
    for number in range(3):
        response = client.post(
            reverse("customers:onboarding"),
            {"name": f"Org {number}", "billing_email": "a@example.com", "country": "GB"},
        )
    assert response.status_code == 200
    assert b"at most 2 organisations" in response.content
    assert Customer.objects.filter(created_by=user).count() == 2


def test_staff_are_not_capped(user_factory, settings):
    settings.ORGANISATIONS_PER_USER = 1
    staff = user_factory(is_staff=True)
    for number in range(2):
        services.customer_create(
            user=staff, name=f"Org {number}", billing_email="a@example.com", country="GB"
        )
    assert Customer.objects.count() == 2


@time_machine.travel("2026-06-10 12:00Z", tick=False)
def test_invitations_are_capped_per_person_across_organisations(member_factory, settings):
    settings.INVITATIONS_PER_USER_PER_HOUR = 3
    first = member_factory(role="owner")
    second = member_factory(role="owner", user=first.user)
    for number, membership in enumerate([first, first, second]):
        services.invitation_create(
            customer=membership.customer,
            email=f"p{number}@example.com",
            role="member",
            invited_by=first.user,
        )
    with pytest.raises(ValidationError, match="at most 3 invitations an hour") as refused:
        services.invitation_create(
            customer=second.customer, email="p9@example.com", role="member", invited_by=first.user
        )
    assert list(refused.value.message_dict) == ["email"]  # shown at the form's email field
    assert Invitation.objects.count() == 3


def test_the_per_person_cap_frees_up_after_an_hour(member_factory, settings):
    settings.INVITATIONS_PER_USER_PER_HOUR = 1
    owner = member_factory(role="owner")
    with time_machine.travel("2026-06-10 12:00Z", tick=False):
        services.invitation_create(
            customer=owner.customer, email="a@example.com", role="member", invited_by=owner.user
        )
    with time_machine.travel("2026-06-10 13:01Z", tick=False):
        services.invitation_create(
            customer=owner.customer, email="b@example.com", role="member", invited_by=owner.user
        )
    assert Invitation.objects.count() == 2


def test_without_debug_a_process_local_cache_is_an_error(settings):
    from django.core.checks import Error

    from portal.checks import rate_limits_share_one_cache

    settings.DEBUG = False
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    errors = rate_limits_share_one_cache(None)
    assert [(type(e), e.id) for e in errors] == [(Error, "portal.E001")]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
        }
    }
    assert rate_limits_share_one_cache(None) == []


def test_manage_py_refuses_to_migrate_without_a_shared_cache_when_debug_is_off():
    import os
    import subprocess
    import sys
    from pathlib import Path

    from cryptography.fernet import Fernet

    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DEBUG", "REDIS_URL"}},
        "DEBUG": "false",
        "SECRET_KEY": Fernet.generate_key().decode() * 2,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "portal.E001" in result.stderr + result.stdout
