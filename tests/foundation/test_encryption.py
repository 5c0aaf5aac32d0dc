import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from portal import fields


@pytest.fixture
def keys(settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    return settings


def test_a_secret_round_trips_and_is_not_stored_in_clear(keys):
    token = fields.encrypt("AKIA-secret-value")
    assert "AKIA" not in token
    assert fields.decrypt(token) == "AKIA-secret-value"


def test_a_rotated_key_still_decrypts_old_values_and_rotation_uses_the_new_key(keys):
    old_key = keys.FIELD_ENCRYPTION_KEYS[0]
    token = fields.encrypt("root-password")
    new_key = Fernet.generate_key().decode()
    keys.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    assert fields.decrypt(token) == "root-password"
    rotated = fields.rotate(token)
    keys.FIELD_ENCRYPTION_KEYS = [new_key]
    assert fields.decrypt(rotated) == "root-password"
    with pytest.raises(ImproperlyConfigured, match="rotate_keys"):
        fields.decrypt(token)


def test_a_malformed_key_is_a_configuration_error(settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        fields.encrypt("x")


@pytest.mark.django_db
def test_rotate_keys_re_encrypts_stored_secrets_so_the_old_key_can_go(keys, filespace_factory):
    import io

    from django.core.management import call_command

    from provisioning.models import Filespace

    old_key = keys.FIELD_ENCRYPTION_KEYS[0]
    filespace = filespace_factory()
    Filespace.objects.filter(pk=filespace.pk).update(root_password="correct horse battery")
    new_key = Fernet.generate_key().decode()
    keys.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    out = io.StringIO()
    call_command("rotate_keys", stdout=out)

    keys.FIELD_ENCRYPTION_KEYS = [new_key]
    assert Filespace.objects.get(pk=filespace.pk).root_password == "correct horse battery"
    assert "provisioning.Filespace: 1 rows re-encrypted" in out.getvalue()
