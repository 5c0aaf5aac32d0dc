"""A bad API rate limit stops start-up with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _start(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "DEBUG": "true", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("rate", ["lots", "0/min", "10/fortnight"])
def test_a_malformed_api_rate_limit_names_the_variable(rate):
    started = _start(API_RATE_LIMIT=rate)
    assert started.returncode != 0
    assert "API_RATE_LIMIT must look like 600/min" in started.stderr


def test_a_well_formed_api_rate_limit_starts():
    started = _start(API_RATE_LIMIT="20/s")
    assert started.returncode == 0, started.stderr
