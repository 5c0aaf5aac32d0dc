"""Deployment files and `check --deploy` stay true to the real services."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def test_compose_names_every_real_service_and_workers_reuse_the_web_image():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "lucidsim"} <= set(services)
    assert services["worker"]["image"] == services["web"]["image"]
    assert services["beat"]["image"] == services["web"]["image"]
    assert "celery" in " ".join(services["worker"]["command"])
    assert services["web"]["environment"]["DATABASE_URL"].startswith("postgres://")
    assert services["web"]["environment"]["CELERY_BROKER_URL"].startswith("redis://")


def test_every_setting_in_env_example_is_read_by_settings():
    names = re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    settings_source = (ROOT / "portal" / "settings.py").read_text()
    unread = [name for name in names if f'"{name}"' not in settings_source]
    assert names and not unread


def test_every_setting_read_from_the_environment_is_documented_in_env_example():
    documented = set(
        re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    settings_source = (ROOT / "portal" / "settings.py").read_text()
    read = set(re.findall(r'env_[a-z]+\("([A-Z][A-Z0-9_]+)"', settings_source))
    assert read and not read - documented, sorted(read - documented)


def test_check_deploy_reports_only_what_the_readme_explains():
    readme = (ROOT / "README.md").read_text()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DEBUG"}},
        "DEBUG": "false",
        "SECRET_KEY": Fernet.generate_key().decode() * 2,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "portal.example.com",
        "LUCIDLINK_API_URL": "https://api.lucidlink.com/api/v1",
        "LUCIDLINK_TOKEN_URL": "https://auth.lucidlink.com/oauth2/token",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "EMAIL_URL": "smtp+tls://mailer:pw@smtp.example.com:587",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    reported = set(re.findall(r"\(([a-z_.]+\.[EW]\d{3})\)", result.stdout + result.stderr))
    unexplained = {check_id for check_id in reported if check_id not in readme}
    assert not unexplained, result.stdout + result.stderr
