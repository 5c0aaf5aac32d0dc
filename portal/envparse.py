"""Strict readers for settings that come from the environment.

Every reader raises ``ImproperlyConfigured`` naming the variable, so a typo in a
deployment stops start-up with a message instead of running with a silent default.
"""

import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off"}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(name: str, default: str = "", *, schemes: set[str] | None = None) -> str:
    """Return a URL with a scheme (and a host, for network schemes), or raise."""
    value = env_str(name, default)
    if not value:
        return value
    parts = urlsplit(value)
    if not parts.scheme or (schemes and parts.scheme not in schemes):
        allowed = ", ".join(sorted(schemes)) if schemes else "a scheme"
        raise ImproperlyConfigured(f"{name} is not a valid URL (expected {allowed}): {_redact(value)}")
    if parts.scheme in {"http", "https", "redis", "rediss", "postgres", "postgresql"}:
        if not parts.hostname:
            raise ImproperlyConfigured(f"{name} has no host: {_redact(value)}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a non-numeric port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid port: {_redact(value)}") from None
    return value


def _redact(url: str) -> str:
    """Hide a password embedded in a URL so it never reaches an error message."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
