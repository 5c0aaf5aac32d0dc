"""Strict readers for settings that come from the environment.

Every reader raises ``ImproperlyConfigured`` naming the variable, so a typo in a
deployment stops start-up with a message instead of running with a silent default.
"""

import ipaddress
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


def env_networks(name: str, default: list[str] | None = None) -> list:
    """Comma-separated IP addresses or networks (`10.0.0.0/8`, `::1`) as ip_network objects."""
    networks = []
    for item in env_list(name, default):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or networks, and {item!r} is neither."
            ) from None
    return networks


def env_url(name: str, default: str = "", *, schemes: set[str] | None = None) -> str:
    """Return a URL with a scheme (and a host, for network schemes), or raise."""
    value = env_str(name, default)
    if not value:
        return value
    parts = urlsplit(value)
    if not parts.scheme or (schemes and parts.scheme not in schemes):
        allowed = ", ".join(sorted(schemes)) if schemes else "a scheme"
        raise ImproperlyConfigured(
            f"{name} is not a valid URL (expected {allowed}): {_redact(value)}"
        )
    network_schemes = {"http", "https", "redis", "rediss", "postgres", "postgresql"}
    if parts.scheme in network_schemes and not parts.hostname:
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


MAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
    "smtp+tls": "django.core.mail.backends.smtp.EmailBackend",
}


def env_mailer(name: str, default: str) -> dict:
    """Read an email URL into one Django MAILERS entry.

    console://, file:///var/mail, smtp://user:pass@host:25, smtp+tls://…:587 (STARTTLS),
    smtps://…:465 (implicit TLS); ``?timeout=10`` sets the SMTP timeout in seconds.
    """
    from urllib.parse import parse_qs, unquote

    value = env_str(name, default)
    parts = urlsplit(value)
    backend = MAIL_BACKENDS.get(parts.scheme)
    if backend is None:
        schemes = ", ".join(sorted(MAIL_BACKENDS))
        raise ImproperlyConfigured(f"{name} must start with one of {schemes}: {_redact(value)}")
    options: dict = {}
    if parts.scheme == "file":
        if not parts.path:
            raise ImproperlyConfigured(f"{name} needs a folder, e.g. file:///var/mail")
        options["file_path"] = parts.path
    elif parts.scheme.startswith("smtp"):
        if not parts.hostname:
            raise ImproperlyConfigured(f"{name} has no host: {_redact(value)}")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(f"{name} has an invalid port: {_redact(value)}") from None
        options.update(
            host=parts.hostname, port=port or {"smtps": 465, "smtp+tls": 587}.get(parts.scheme, 25)
        )
        options.update(
            username=unquote(parts.username or ""), password=unquote(parts.password or "")
        )
        options.update(use_tls=parts.scheme == "smtp+tls", use_ssl=parts.scheme == "smtps")
        timeout = parse_qs(parts.query).get("timeout")
        if timeout:
            options["timeout"] = env_int_value(name, timeout[0])
    return {"BACKEND": backend, "OPTIONS": options}


def env_int_value(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} has a non-numeric value: {raw!r}") from None
