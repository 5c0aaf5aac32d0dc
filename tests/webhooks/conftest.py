"""A real local HTTP receiver for webhook tests (http.server on a free port)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Answers each POST with the next planned (status, headers, delay); 200 once they run out."""

    url: str = ""
    plan: list[tuple[int, dict, float]] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)

    def answer(self, *statuses: int) -> None:
        self.plan.extend((status, {}, 0.0) for status in statuses)

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"receiver got {len(self.requests)} requests, wanted {count}")
            time.sleep(0.05)
        return self.requests


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            state.requests.append(
                Received(self.path, dict(self.headers.items()), body, time.monotonic())
            )
            status, headers, delay = state.plan.pop(0) if state.plan else (200, {}, 0.0)
            if delay:
                time.sleep(delay)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def staff(user_factory):
    return user_factory(email="ops@msp.example", is_staff=True, mfa=True)


@pytest.fixture
def no_webhook_enqueue(monkeypatch) -> list[int]:
    """Record delivery task sends instead of reaching a broker; tests call the service directly."""
    from portal.webhooks import tasks

    sent: list[int] = []
    monkeypatch.setattr(
        tasks.deliver_webhook, "delay", lambda delivery_id: sent.append(delivery_id)
    )
    return sent


@pytest.fixture(autouse=True)
def relay_after_commit(request, monkeypatch):
    """The relay task, run in place right after an action commits (a unit test has no worker;
    real-worker tests keep the real message: tests/webhooks/test_outbox_worker.py)."""
    if request.node.get_closest_marker("worker"):
        return
    from portal.actions import outbox
    from portal.webhooks.services import outbox_relay

    monkeypatch.setattr(outbox, "_enqueue_relay", lambda: outbox_relay())
