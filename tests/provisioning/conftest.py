import pytest

from tests.provisioning.fakes import FakeClient


@pytest.fixture
def fake_client(monkeypatch) -> FakeClient:
    """Route every task's LucidLink calls to a FakeClient (the unit-test seam)."""
    client = FakeClient()
    monkeypatch.setattr("provisioning.lucidlink.get_client", lambda: client)
    monkeypatch.setattr("provisioning.services.common.domain_for", lambda c: c.list_domains()[0])
    return client


@pytest.fixture(autouse=True)
def emails_sent_in_process(monkeypatch):
    """Unit tests run the email task's body in place of sending it to a broker."""
    from provisioning import emails, tasks

    monkeypatch.setattr(
        tasks.send_filespace_email,
        "delay",
        lambda filespace_id, kind: emails.send(filespace_id=filespace_id, kind=kind),
    )
    monkeypatch.setattr(
        tasks.send_filespace_emails,
        "delay",
        lambda filespace_ids, kind: [emails.send(filespace_id=i, kind=kind) for i in filespace_ids],
    )


@pytest.fixture
def no_enqueue(monkeypatch) -> list[tuple[str, tuple]]:
    """Record task sends instead of reaching a broker; unit tests run tasks directly."""
    from provisioning import tasks

    sent: list[tuple[str, tuple]] = []
    for task in (tasks.create_filespace, tasks.delete_filespace):
        monkeypatch.setattr(task, "delay", lambda *a, _n=task.name: sent.append((_n, a)))
    return sent


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, tuple, float | None]]:
    """Task messages the batch sends (re-sent creates, scheduled sweeps), instead of a broker."""
    from provisioning import tasks

    messages: list[tuple[str, tuple, float | None]] = []

    def recorder(name):
        def apply_async(args=(), countdown=None, **_):
            messages.append((name, tuple(args), countdown))

        return apply_async

    for task in (tasks.create_filespace, tasks.poll_filespaces):
        monkeypatch.setattr(task, "apply_async", recorder(task.name))
    return messages


@pytest.fixture
def fresh_cache():
    """An empty cache before and after: the batch's sweep keys and the shared pause live there."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


class RetryCalled(Exception):
    def __init__(self, countdown: float) -> None:
        super().__init__(countdown)
        self.countdown = countdown


@pytest.fixture
def capture_retry(monkeypatch) -> list[float]:
    """Make task.retry raise RetryCalled(countdown) so a test can read the countdown."""
    from provisioning import tasks

    countdowns: list[float] = []

    def retry(*args, countdown=None, **kwargs):
        countdowns.append(countdown)
        raise RetryCalled(countdown)

    for task in (tasks.create_filespace, tasks.delete_filespace):
        monkeypatch.setattr(task, "retry", retry)
    return countdowns
