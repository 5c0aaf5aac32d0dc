"""Second factors encrypted at rest with the project's rotating Fernet keys.

allauth stores the TOTP secret (``data["secret"]``) and the recovery-code seed
(``data["seed"]``, or ``data["migrated_codes"]``) through its MFA adapter's ``encrypt`` and
``decrypt`` hooks; this adapter makes them Fernet tokens from ``FIELD_ENCRYPTION_KEYS``, so a
copy of the database alone cannot mint codes. ``manage.py rotate_keys`` re-encrypts them.
"""

from allauth.mfa.adapter import DefaultMFAAdapter

from portal import fields

# Every Fernet token starts with its version byte 0x80, "gA" in URL-safe base64. A TOTP secret
# (base32: A-Z, 2-7) and a recovery seed (hex) never do, so a stored value says which it is.
FERNET_PREFIX = "gA"
SECRET_KEYS = ("secret", "seed")
SECRET_LISTS = ("migrated_codes",)


def is_encrypted(value: str) -> bool:
    return value.startswith(FERNET_PREFIX)


class MFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return fields.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        # A value written before encryption was switched on and not yet migrated stays usable.
        if not is_encrypted(encrypted_text):
            return encrypted_text
        return fields.decrypt(encrypted_text)


def _map_secrets(data: dict, change) -> dict:
    """A copy of an authenticator's data with `change` applied to every secret in it."""
    result = dict(data)
    for key in SECRET_KEYS:
        if isinstance(result.get(key), str):
            result[key] = change(result[key])
    for key in SECRET_LISTS:
        if isinstance(result.get(key), list):
            result[key] = [change(item) for item in result[key]]
    return result


def encrypt_data(data: dict) -> dict:
    """Encrypt the plaintext secrets of one authenticator's data (already encrypted ones stay)."""
    return _map_secrets(data, lambda v: v if is_encrypted(v) else fields.encrypt(v))


def rotate_data(data: dict) -> dict:
    """Re-encrypt every secret with the newest key (plaintext ones get encrypted)."""
    return _map_secrets(data, lambda v: fields.rotate(v) if is_encrypted(v) else fields.encrypt(v))


def decrypt_data(data: dict) -> dict:
    return _map_secrets(data, lambda v: fields.decrypt(v) if is_encrypted(v) else v)
