"""Keep one `make run` process alive: ``python portal/keepalive.py NAME -- COMMAND [ARGS...]``.

honcho stops the whole stack as soon as any one process exits, so a crashed worker (kill -9, an
out-of-memory kill) would take the portal, beat and simulator down with it. This wrapper runs the
command, says in the terminal what died and how, and starts it again after a short pause. A
process that keeps dying right after it starts is given up on, with a message saying how to bring
it back, while the rest of the stack stays up. SIGINT and SIGTERM are passed on and end the wrapper.
Standard library only, and run by path (not -m) so it imports neither Django nor Celery.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

RESTART_PAUSE = 2.0
QUICK_EXIT = 10.0  # A process that dies sooner than this after starting counts as a failed start.
MAX_QUICK_EXITS = 5


def describe(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


class Keeper:
    def __init__(self, name: str, command: list[str]) -> None:
        self.name = name
        self.command = command
        self.child: subprocess.Popen | None = None
        self.stopping = False

    def say(self, message: str) -> None:
        print(f"keepalive[{self.name}]: {message}", file=sys.stderr, flush=True)

    def stop(self, signum: int, frame: object) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        quick_exits = 0
        restarts = 0
        while True:
            started = time.monotonic()
            self.child = subprocess.Popen(self.command)
            returncode = self.child.wait()
            if self.stopping:
                return 0
            quick_exits = quick_exits + 1 if time.monotonic() - started < QUICK_EXIT else 0
            if quick_exits >= MAX_QUICK_EXITS:
                self.give_up(returncode)
                return 0
            restarts += 1
            self.say(
                f"{self.name} {describe(returncode)}; starting it again in {RESTART_PAUSE:.0f} s "
                f"(restart {restarts}). The other processes keep running."
            )
            time.sleep(RESTART_PAUSE)
            if self.stopping:
                return 0

    def give_up(self, returncode: int) -> None:
        """Leave the rest of the stack up and wait for Ctrl-C, having said what to do."""
        self.say(
            f"{self.name} {describe(returncode)} {MAX_QUICK_EXITS} times in a row within "
            f"{QUICK_EXIT:.0f} s of starting; not restarting it again. Read its error above, fix "
            f"it, then press Ctrl-C and run `make run` again (or run it alone: "
            f"{' '.join(self.command)})."
        )
        while not self.stopping:
            signal.pause()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python portal/keepalive.py NAME -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    return Keeper(argv[0], argv[2:]).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
