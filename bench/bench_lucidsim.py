"""Requests per second of lucidsim for GET /filespaces/{id} and POST /filespaces.

Starts its own simulator (pinned to one CPU core when the platform allows) with a throw-away
state file, or measures a running one with --url. Each client connection is a keep-alive
http.client connection in its own thread.

    .venv/bin/python bench/bench_lucidsim.py [--seconds 5] [--connections 1] [--url URL]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit

CLIENT_ID, SECRET = "bench", "bench-secret"


def start_server(state_dir: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [
            sys.executable, "-m", "lucidsim", "--port", "0",
            "--state", os.path.join(state_dir, "bench.sqlite3"),
            "--provisioning-delay", "0", "--accounts", f"{CLIENT_ID}:{SECRET}:bench-domain",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    line = process.stdout.readline()
    if not line.startswith("lucidsim listening on "):
        process.kill()
        raise SystemExit(f"lucidsim did not start: {line!r}")
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(process.pid, {0})  # The server gets one core...
        os.sched_setaffinity(0, set(range(1, os.cpu_count())))  # ...the clients the others.
    return process, line.rsplit(" ", 1)[1].strip()


class Client:
    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.headers = {"Authorization": token, "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        payload = None if body is None else json.dumps(body)
        self.connection.request(method, "/api/v1" + path, body=payload, headers=self.headers)
        response = self.connection.getresponse()
        return response.status, response.read()


def get_token(url: str) -> str:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    connection.request(
        "POST",
        "/oauth2/token",
        body="grant_type=client_credentials",
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    return json.loads(connection.getresponse().read())["access_token"]


def server_cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU time the server process has used (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name, url, token, seconds, connections, make_request, server_pid=None):
    cpu_before = server_cpu_seconds(server_pid)
    counts = [0] * connections
    errors = [0] * connections
    deadline = time.perf_counter() + seconds

    def worker(index: int) -> None:
        client = Client(url, token)
        n = 0
        while time.perf_counter() < deadline:
            status, _ = client.call(*make_request(index, n))
            n += 1
            if status >= 400:
                errors[index] += 1
        counts[index] = n

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    total = sum(counts)
    print(
        f"{name:<24} {total:>7} requests in {elapsed:5.2f}s = {total / elapsed:8.0f} req/s "
        f"({connections} connection(s), {sum(errors)} errors)",
        flush=True,
    )
    cpu_after = server_cpu_seconds(server_pid)
    if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
        # Requests per second of server CPU: the one-core capacity, whatever else the machine
        # is running at the same time.
        used = cpu_after - cpu_before
        print(f"{'':<24} server CPU {used:5.2f}s = {total / used:8.0f} req per CPU-second")
    return total / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--url", help="measure a running simulator (account bench:bench-secret)")
    args = parser.parse_args()

    process = None
    with tempfile.TemporaryDirectory() as state_dir:
        url = args.url
        if url is None:
            process, url = start_server(state_dir)
        try:
            token = get_token(url)
            setup = Client(url, token)
            _, body = setup.call("GET", "/domains")
            domain_id = json.loads(body)[0]["id"]
            fs_body = {"domain": domain_id, "storage": {"provider": "IBM", "region": "us-east"}}
            status, body = setup.call("POST", "/filespaces", {**fs_body, "name": "bench-target"})
            assert status == 201, body
            target = json.loads(body)["id"]
            pid = process.pid if process is not None else None
            print(f"lucidsim at {url}; server pinned to one core: {process is not None}")
            measure(
                "GET /filespaces/{id}",
                url,
                token,
                args.seconds,
                args.connections,
                lambda i, n: ("GET", f"/filespaces/{target}"),
                pid,
            )
            measure(
                "POST /filespaces",
                url,
                token,
                args.seconds,
                args.connections,
                lambda i, n: ("POST", "/filespaces", {**fs_body, "name": f"bench-{i}-{n}"}),
                pid,
            )
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
