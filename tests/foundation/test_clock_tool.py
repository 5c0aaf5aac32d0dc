"""The clock tool (tests/fixtures/clock.py) pins every test, and the processes they start."""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import time_machine

PROJECT_ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import time
from datetime import UTC, date, datetime

def test_the_clock_starts_at_the_pinned_instant(pinned_clock):
    assert pinned_clock == datetime(2028, 2, 29, 23, 59, 59, tzinfo=UTC)
    assert abs(datetime.now(UTC) - pinned_clock).total_seconds() < 5
    # Kiritimati is UTC+14: its local date is already 1 March.
    assert date.today() == date(2028, 3, 1)
    assert time.strftime("%Z") == "+14"

def test_each_test_starts_at_the_instant_again(pinned_clock):
    time.sleep(1.5)
    assert abs(datetime.now(UTC) - pinned_clock).total_seconds() < 5
"""


def run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_probe.py").write_text(PROBE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("PORTAL_TEST_CLOCK", None)
    env.pop("PORTAL_TEST_TZ", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.fixtures.clock",
            "-p",
            "no:django",
            "-p",
            "no:cacheprovider",
            "-c",
            str(tmp_path / "pytest.ini"),
            str(tmp_path),
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )


def test_a_pinned_run_starts_every_test_at_the_instant_in_the_time_zone(tmp_path):
    result = run_pytest(tmp_path, "--clock=2028-02-29T23:59:59Z", "--clock-tz=Pacific/Kiritimati")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_an_unpinned_run_is_on_the_real_clock(tmp_path):
    result = run_pytest(tmp_path)

    assert result.returncode == 1
    assert "2 failed" in result.stdout


def test_a_clock_without_a_utc_offset_is_refused(tmp_path):
    result = run_pytest(tmp_path, "--clock=2028-02-29T23:59:59")

    assert result.returncode != 0
    assert "must name its UTC offset" in result.stderr


def test_a_process_started_through_clocked_follows_the_offset(tmp_path):
    (tmp_path / "show_time.py").write_text("import time\nprint(time.time())\n")
    # The offset is from the real clock, which a pinned run of this very test does not show.
    travelling = time_machine.escape_hatch.is_travelling()
    real_now = time_machine.escape_hatch.time.time() if travelling else time.time()
    offset = datetime(2026, 12, 31, 23, 30, tzinfo=UTC).timestamp() - real_now
    env = {
        **os.environ,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{PROJECT_ROOT}",
        "PORTAL_TEST_CLOCK_OFFSET": str(offset),
    }

    result = subprocess.run(
        [sys.executable, "-m", "tests.fixtures.clocked", "show_time"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )

    seen = datetime.fromtimestamp(float(result.stdout), UTC)
    assert abs(seen - datetime(2026, 12, 31, 23, 30, tzinfo=UTC)).total_seconds() < 30
