"""`make run` wraps each process in portal/keepalive.py so one crash does not stop the stack."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.fixtures.worker import wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KEEPALIVE = PROJECT_ROOT / "portal" / "keepalive.py"


def start_kept(tmp_path: Path, child_code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(KEEPALIVE), "demo", "--", sys.executable, "-c", child_code],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )


def sleeper(pids: Path) -> str:
    return (
        f"import os, time; open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n'); time.sleep(120)"
    )


def started_pids(pids: Path) -> list[int]:
    return [int(line) for line in pids.read_text().split()] if pids.exists() else []


def test_a_killed_process_is_started_again_and_the_terminal_says_so(tmp_path):
    pids = tmp_path / "pids"
    keeper = start_kept(tmp_path, sleeper(pids))
    try:
        (first,) = wait_until(lambda: started_pids(pids), timeout=20)
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: len(started_pids(pids)) == 2, timeout=20)
        assert keeper.poll() is None
    finally:
        keeper.send_signal(signal.SIGTERM)
        _out, err = keeper.communicate(timeout=20)

    assert "demo killed by SIGKILL; starting it again" in err
    assert keeper.returncode == 0


def test_stopping_the_wrapper_stops_the_process_and_does_not_restart_it(tmp_path):
    pids = tmp_path / "pids"
    keeper = start_kept(tmp_path, sleeper(pids))
    (child,) = wait_until(lambda: started_pids(pids), timeout=20)

    keeper.send_signal(signal.SIGTERM)
    keeper.communicate(timeout=20)

    assert keeper.returncode == 0
    time.sleep(0.5)
    assert len(started_pids(pids)) == 1
    assert not Path(f"/proc/{child}").exists()


def test_a_process_that_keeps_dying_at_start_is_given_up_on_without_stopping(tmp_path):
    keeper = start_kept(tmp_path, "import sys; sys.exit(3)")
    try:
        # Five quick exits with a two-second pause between them, then the wrapper waits.
        time.sleep(12)
        assert keeper.poll() is None
    finally:
        keeper.send_signal(signal.SIGTERM)
        _out, err = keeper.communicate(timeout=20)

    assert err.count("demo exited with status 3; starting it again") == 4
    assert "not restarting it again" in err
    assert "run `make run` again" in err


def test_every_make_run_process_is_kept_alive():
    lines = [line for line in (PROJECT_ROOT / "Procfile").read_text().splitlines() if line.strip()]

    assert lines
    for line in lines:
        name, command = line.split(":", 1)
        assert command.split()[1:4] == ["portal/keepalive.py", name, "--"], line
