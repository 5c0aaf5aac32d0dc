"""Multiprocess bookkeeping and the Celery worker's metrics server."""

import os

import pytest
import requests

from portal.observability import exposition, multiproc

TOKEN = "worker-metrics-token-0123"


@pytest.mark.parametrize(
    ("argv", "worker"),
    [
        (["/srv/.venv/bin/celery", "-A", "portal", "worker", "--concurrency=4"], True),
        (["/usr/lib/python3/site-packages/celery/__main__.py", "-A", "portal", "worker"], True),
        (["celery", "-A", "portal", "beat"], False),
        (["gunicorn", "portal.wsgi:application", "--workers", "3"], False),
        (["manage.py", "runserver"], False),
        ([], False),
    ],
)
def test_only_a_celery_worker_command_counts_as_a_worker(argv, worker):
    assert multiproc.is_celery_worker(argv) is worker


def test_an_operators_directory_is_kept_but_emptied_of_other_processes_files(tmp_path, monkeypatch):
    mine = tmp_path / f"counter_{os.getpid()}.db"
    stale = tmp_path / "counter_1.db"
    mine.write_bytes(b"x")
    stale.write_bytes(b"x")
    monkeypatch.setenv(multiproc.ENV, str(tmp_path))
    assert multiproc.prepare_celery_worker() == tmp_path
    assert mine.exists() and not stale.exists()


def test_without_a_directory_each_worker_gets_its_own_and_dead_ones_are_removed(
    tmp_path, monkeypatch
):
    # setenv first, so the variable prepare_celery_worker exports is removed after the test.
    monkeypatch.setenv(multiproc.ENV, "")
    monkeypatch.delenv(multiproc.ENV)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    dead = tmp_path / "metrics" / "worker-999999999"
    dead.mkdir(parents=True)
    directory = multiproc.prepare_celery_worker()
    assert directory == tmp_path / "metrics" / f"worker-{os.getpid()}"
    assert os.environ[multiproc.ENV] == str(directory)
    assert directory.is_dir() and not dead.exists()


@pytest.fixture
def worker_server(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    server = exposition.serve_worker_metrics(address="127.0.0.1", port=0)
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()


def test_the_worker_serves_its_metrics_to_the_token_only(worker_server):
    assert requests.get(worker_server, timeout=5).status_code == 401
    wrong = requests.get(worker_server, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert wrong.status_code == 401
    right = requests.get(worker_server, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert right.status_code == 200
    assert right.headers["Content-Type"].startswith("text/plain; version=")
    assert "portal_celery_tasks" in right.text
    # The worker has no database gauges: those come from the web only, once.
    assert "portal_filespaces{" not in right.text
