"""Deployment files and `check --deploy` stay true to the real services."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from cryptography.fernet import Fernet

from portal import queues

ROOT = Path(__file__).resolve().parents[2]


def test_compose_names_every_real_service_and_workers_reuse_the_web_image():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    workers = {f"worker-{queue}" for queue in ("provisioning", "billing", "webhooks", "email")}
    assert {"postgres", "redis", "web", "beat", "lucidsim"} | workers <= set(services)
    for name in workers | {"beat"}:
        assert services[name]["image"] == services["web"]["image"]
        assert services[name]["command"][:3] == ["celery", "-A", "portal"]
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


def served_queues(command: list[str]) -> list[str]:
    return command[command.index("-Q") + 1].split(",") if "-Q" in command else []


def procfile_workers(name: str) -> list[list[str]]:
    lines = (ROOT / name).read_text().splitlines()
    commands = [line.split(":", 1)[1].split() for line in lines if line.strip()]
    return [
        command
        for command in commands
        if "worker" in command and any(word.endswith("bin/celery") for word in command)
    ]


def test_make_run_starts_a_worker_for_each_queue_and_one_worker_can_serve_them_all():
    every_queue = sorted(queues.PRIORITY)
    split = [served_queues(command) for command in procfile_workers("Procfile")]
    assert sorted(queue for served in split for queue in served) == every_queue
    assert ["provisioning"] in split and ["billing"] in split and ["webhooks"] in split
    (single,) = procfile_workers("Procfile.single")
    assert served_queues(single) == list(queues.PRIORITY)


def test_compose_runs_a_worker_service_for_each_queue():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    served = [served_queues(service.get("command") or []) for service in services.values()]
    assert sorted(queue for queues_ in served for queue in queues_) == sorted(queues.PRIORITY)
    assert ["provisioning"] in served and ["billing"] in served and ["webhooks"] in served
