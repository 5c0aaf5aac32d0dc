"""gunicorn settings for bench_pages.py --at: each worker's clock starts at BENCH_NOW and ticks.

The pages rate the current month up to now, so "a month of hourly samples" needs now to be a
month's end; this lets the benchmark measure that on any day. Only the benchmark uses it.
"""

import os


def post_fork(server, worker) -> None:
    import time_machine

    time_machine.travel(os.environ["BENCH_NOW"], tick=True).start()
