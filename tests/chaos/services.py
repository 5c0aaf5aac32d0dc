"""Restarting, stopping and freezing the PRIVATE PostgreSQL and Redis that .ci/chaos started.

Never the shared servers: every function refuses to act unless .ci/chaos exported the private
ones' coordinates (CHAOS_*), and acts only on those.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from django.db import connections


def _need(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set: run the fault suite with `make chaos` (.ci/chaos)")
    return value


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else command


def postgres_restart() -> float:
    """Restart the private cluster (fast shutdown: open connections are cut); seconds down."""
    pg_ctl, data, opts = _need("CHAOS_PG_CTL"), _need("CHAOS_PG_DATA"), _need("CHAOS_PG_OPTS")
    started = time.monotonic()
    log = os.path.join(data, "server.log")
    command = [pg_ctl, "-D", data, "-m", "fast", "-o", opts, "-l", log, "-w", "restart"]
    try:
        # No pipes: the restarted postmaster would hold them open and run() would never return.
        subprocess.run(
            _as_postgres(command),
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
    finally:
        connections.close_all()  # this process's connections died with the server
    _reconnect()
    return time.monotonic() - started


def _reconnect(tries: int = 40) -> None:
    """Use the database until a query succeeds: pooled connections that died are dropped."""
    from django.db import connection
    from django.db.utils import InterfaceError, OperationalError

    for _ in range(tries):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return
        except (OperationalError, InterfaceError):
            connections.close_all()
            time.sleep(0.25)
    raise RuntimeError("the private PostgreSQL did not come back")


def _redis_pid() -> int:
    port = _need("CHAOS_REDIS_PORT")
    info = subprocess.run(
        ["redis-cli", "-p", port, "info", "server"], capture_output=True, text=True, timeout=10
    ).stdout
    for line in info.splitlines():
        if line.startswith("process_id:"):
            return int(line.split(":", 1)[1])
    raise RuntimeError("the private Redis does not answer")


def redis_restart() -> None:
    """Restart the private Redis without persistence: every queued message is lost."""
    port, workdir = _need("CHAOS_REDIS_PORT"), _need("CHAOS_REDIS_DIR")
    subprocess.run(["redis-cli", "-p", port, "shutdown", "nosave"], capture_output=True)
    subprocess.run(
        [
            "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", workdir, "--daemonize", "yes",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    for _ in range(100):
        ping = subprocess.run(["redis-cli", "-p", port, "ping"], capture_output=True, text=True)
        if ping.stdout.strip() == "PONG":
            return
        time.sleep(0.1)
    raise RuntimeError("the private Redis did not come back")


def redis_freeze(seconds: float) -> None:
    """SIGSTOP the private Redis for `seconds` (a hung server: connections open, no answers)."""
    pid = _redis_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.kill(pid, signal.SIGCONT)
