"""Gunicorn hooks the portal needs whatever the command line says (docs/observability.md).

Gunicorn reads ./gunicorn.conf.py by default. The master chooses (and empties) the directory in
which every worker writes its metrics before any worker starts, so /metrics, answered by any
one worker, adds up the counters of all of them; a worker that exits is marked dead there.
"""

from portal.observability import multiproc


def on_starting(server) -> None:
    directory = multiproc.use_directory(multiproc.default_root() / "web")
    server.log.info("Metrics of every worker are kept in %s", directory)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
