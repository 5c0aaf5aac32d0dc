"""Start-up refuses bad configuration with a message that names the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.envparse import env_bool, env_int, env_url

ROOT = Path(__file__).resolve().parents[2]


def start_django(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL"}}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("word", ["maybe", "2", "yes please"])
def test_a_non_boolean_debug_names_the_variable(monkeypatch, word):
    monkeypatch.setenv("DEBUG", word)
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be true or false"):
        env_bool("DEBUG")


def test_boolean_words_are_read_either_way(monkeypatch):
    monkeypatch.setenv("FLAG", "TRUE")
    assert env_bool("FLAG") is True
    monkeypatch.setenv("FLAG", "off")
    assert env_bool("FLAG", default=True) is False


def test_a_malformed_url_names_the_variable_and_hides_the_password(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://user:hunter2@:notaport/db")
    with pytest.raises(ImproperlyConfigured) as excinfo:
        env_url("DATABASE_URL", schemes={"postgres"})
    assert "DATABASE_URL" in str(excinfo.value)
    assert "hunter2" not in str(excinfo.value)


def test_a_url_with_an_unexpected_scheme_is_refused(monkeypatch):
    monkeypatch.setenv("LUCIDLINK_API_URL", "ftp://api.example.com")
    with pytest.raises(ImproperlyConfigured, match="LUCIDLINK_API_URL"):
        env_url("LUCIDLINK_API_URL", schemes={"http", "https"})


def test_a_non_numeric_integer_is_refused(monkeypatch):
    monkeypatch.setenv("SECURE_HSTS_SECONDS", "one year")
    with pytest.raises(ImproperlyConfigured, match="SECURE_HSTS_SECONDS"):
        env_int("SECURE_HSTS_SECONDS", 0)


def test_production_without_a_secret_key_refuses_to_start():
    result = start_django(DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_production_without_encryption_keys_refuses_to_start():
    result = start_django(DEBUG="false", SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is required" in result.stderr


def test_bad_debug_value_stops_start_up():
    result = start_django(DEBUG="sometimes")
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_a_bare_laptop_starts_on_sqlite_and_the_filesystem_broker(tmp_path):
    env = {"DEBUG": "true", "VAR_DIR": str(tmp_path)}
    base = {k: v for k, v in os.environ.items() if k not in {"CELERY_BROKER_URL", "REDIS_URL"}}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s;"
            "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL,"
            " s.CACHES['default']['BACKEND'])",
        ],
        cwd=ROOT,
        env={**{k: v for k, v in base.items() if k != "DATABASE_URL"}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "filesystem://",
        "django.core.cache.backends.locmem.LocMemCache",
    ]
    assert (tmp_path / "broker").is_dir()


def test_an_smtp_url_becomes_a_mailer_with_starttls(monkeypatch):
    from portal.envparse import env_mailer

    monkeypatch.setenv("EMAIL_URL", "smtp+tls://apikey:p%40ss@smtp.example.com:2525?timeout=7")
    mailer = env_mailer("EMAIL_URL", "console://")
    assert mailer["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert mailer["OPTIONS"] == {
        "host": "smtp.example.com",
        "port": 2525,
        "username": "apikey",
        "password": "p@ss",
        "use_tls": True,
        "use_ssl": False,
        "timeout": 7,
    }


def test_an_unknown_mail_scheme_names_the_variable(monkeypatch):
    from portal.envparse import env_mailer

    monkeypatch.setenv("EMAIL_URL", "pigeon://coop")
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL must start with one of"):
        env_mailer("EMAIL_URL", "console://")
