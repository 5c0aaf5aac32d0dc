"""Second factors are encrypted at rest and the admin shows nothing secret (issue #16)."""

import io
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from tests.security.conftest import SECRET

pytestmark = pytest.mark.django_db


def _raw_data(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM mfa_authenticator WHERE id = %s", [pk])
        value = cursor.fetchone()[0]
    return value if isinstance(value, str) else str(value)


def _code(secret: str = SECRET) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_a_totp_secret_is_not_stored_in_clear_and_still_verifies(user_factory):
    totp = TOTP.activate(user_factory(), SECRET)
    assert SECRET not in _raw_data(totp.instance.pk)
    assert TOTP(Authenticator.objects.get(pk=totp.instance.pk)).validate_code(_code())


def test_recovery_codes_keep_working_with_an_encrypted_seed(user_factory):
    codes = RecoveryCodes.activate(user_factory())
    seed = codes.generate_codes()
    raw = _raw_data(codes.instance.pk)
    assert '"seed": "gA' in raw.replace('":"', '": "')
    reloaded = RecoveryCodes(Authenticator.objects.get(pk=codes.instance.pk))
    assert reloaded.generate_codes() == seed


def test_the_migration_encrypts_rows_written_in_clear(user_factory):
    from importlib import import_module

    from django.apps import apps

    totp = TOTP.activate(user_factory(), SECRET)
    Authenticator.objects.filter(pk=totp.instance.pk).update(data={"secret": SECRET})
    assert SECRET in _raw_data(totp.instance.pk)
    migration = import_module("portal.migrations.0002_encrypt_authenticator_secrets")
    migration.encrypt_existing(apps, None)
    assert SECRET not in _raw_data(totp.instance.pk)
    assert TOTP(Authenticator.objects.get(pk=totp.instance.pk)).validate_code(_code())


def test_rotate_keys_covers_second_factors(user_factory, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    totp = TOTP.activate(user_factory(), SECRET)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out = io.StringIO()
    call_command("rotate_keys", stdout=out)
    assert "mfa.Authenticator: 1 rows re-encrypted" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert TOTP(Authenticator.objects.get(pk=totp.instance.pk)).validate_code(_code())


def test_the_admin_shows_no_secret_and_allows_no_edit(client, staff_factory, user_factory):
    staff = staff_factory("ops@msp.example", is_superuser=False)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="mfa", codename__endswith="authenticator"
        )
    )
    other = TOTP.activate(user_factory("victim@example.com"), "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU")
    client.force_login(staff)
    url = f"/admin/mfa/authenticator/{other.instance.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "KRSXG5CTMVRXEZLU" not in body and 'name="data"' not in body
    assert other.instance.data["secret"][:12] not in body
    client.post(url, {"user": staff.pk, "type": "totp", "data": '{"secret": "AAAA"}'})
    assert Authenticator.objects.get(pk=other.instance.pk).user.email == "victim@example.com"
    delete = client.post(f"/admin/mfa/authenticator/{other.instance.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    assert Authenticator.objects.filter(pk=other.instance.pk).exists()
