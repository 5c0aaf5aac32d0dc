"""Where prometheus_client's multiprocess mode keeps each process family's values.

Gunicorn's workers and a Celery worker's pool are forked processes; each writes its counters to
files in PROMETHEUS_MULTIPROC_DIR and the exposition adds them up. One directory belongs to one
process family (one gunicorn master, one celery worker), is emptied when that family starts, and
must be chosen before prometheus_client is first imported, which is why this module imports
neither Django nor prometheus_client at its top.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def default_root() -> Path:
    """var/metrics under VAR_DIR (the settings' default when VAR_DIR is unset)."""
    base = os.environ.get("VAR_DIR") or Path(__file__).resolve().parents[2] / "var"
    return Path(base) / "metrics"


def use_directory(default: Path) -> Path:
    """Adopt $PROMETHEUS_MULTIPROC_DIR, or `default`, emptied; export it to child processes."""
    directory = Path(os.environ.get(ENV) or default)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    os.environ[ENV] = str(directory)
    return directory


def is_celery_worker(argv: list[str]) -> bool:
    """`celery -A portal worker ...` or `python -m celery -A portal worker ...`."""
    if not argv:
        return False
    program = Path(argv[0])
    is_celery = program.name == "celery" or program.parent.name == "celery"
    return is_celery and "worker" in argv[1:]


def prepare_celery_worker() -> Path:
    """Give this worker's main process and its pool one directory, before anything imports
    prometheus_client (Celery imports the tasks, and with them the metrics, before any worker
    signal fires). An operator's PROMETHEUS_MULTIPROC_DIR is kept, emptied of other processes'
    files; otherwise each worker gets var/metrics/worker-<pid>."""
    given = os.environ.get(ENV)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for path in directory.glob("*.db"):
            if not path.stem.endswith(f"_{os.getpid()}"):
                path.unlink(missing_ok=True)
        return directory
    root = default_root()
    prune_dead_worker_directories(root)
    return use_directory(root / f"worker-{os.getpid()}")


def prune_dead_worker_directories(root: Path) -> None:
    """Remove `worker-<pid>` directories left by workers that are no longer running."""
    if not root.is_dir():
        return
    for path in root.glob("worker-*"):
        pid = path.name.removeprefix("worker-")
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
