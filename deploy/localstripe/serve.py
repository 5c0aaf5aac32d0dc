"""Start localstripe (a stateful fake Stripe API, PyPI `localstripe`) the way the portal needs it.

`make run` (Procfile) and the tests (tests/fixtures/localstripe.py) start this script; the portal
never imports localstripe, it talks HTTP to it through the official `stripe` library.

What this adds to `localstripe` 1.15.10 as published:

- it listens on 127.0.0.1 only (upstream binds every IPv6 and IPv4 address) and prints
  `localstripe listening on http://127.0.0.1:PORT` once it accepts connections; `--port 0`
  takes a free port, so parallel test runs never collide;
- its pickle of the store goes to `--state` (upstream always writes `localstripe.pickle` in the
  system temporary folder, which every localstripe on the machine shares); without `--state`
  the store stays in memory;
- it honours the `Idempotency-Key` header as Stripe does (upstream ignores it): a POST repeated
  with the same key and the same secret key gets the first answer again instead of a second
  object. The portal's "never charge twice" relies on that behaviour of Stripe, so the fake must
  have it too or the tests would prove nothing about it;
- `--webhook-url`/`--webhook-secret` register the portal's webhook endpoint at start-up;
- `POST /_config/answer_delay` (`path`, `seconds`, `times`) makes the next `times` POSTs to
  `path` act at once and answer `seconds` later, so the fault suite can kill a worker while its
  call is in flight after Stripe acted on it (tests/chaos); flushing the store forgets it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import pickle
import socket
import sys

from aiohttp import web
from localstripe import resources, server, webhooks


def _use_state_file(path: str | None) -> None:
    def load(self) -> None:
        if path is None:
            return
        try:
            with open(path, "rb") as f:
                old = pickle.load(f)  # noqa: S301 - our own file, written by this process
        except FileNotFoundError:
            return
        self.clear()
        self.update(old)

    def dump(self) -> None:
        if path is None:
            return
        with open(path, "wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = dump


def _answer_delay_middleware():
    """Answer the next POSTs to a path late, after acting on them (a slow or lost answer)."""
    delays: dict[str, list[float]] = {}  # path -> [seconds, POSTs left]

    async def configure(request: web.Request) -> web.Response:
        data = await request.post()
        try:
            path = str(data["path"])
            seconds, times = float(data["seconds"]), int(data.get("times", 1))
        except (KeyError, ValueError):
            return web.json_response({"error": "path, seconds and times"}, status=400)
        delays[path] = [seconds, times]
        return web.json_response({"path": path, "seconds": seconds, "times": times})

    @web.middleware
    async def answer_delay(request: web.Request, handler):
        if request.method == "DELETE" and request.path == "/_config/data":
            delays.clear()
        delay = delays.get(request.path) if request.method == "POST" else None
        response = await handler(request)
        if delay and delay[1] > 0:
            delay[1] -= 1
            await asyncio.sleep(delay[0])
        return response

    return configure, answer_delay


def _idempotency_middleware():
    answers: dict[tuple[str, str, str], tuple[int, bytes, str]] = {}

    @web.middleware
    async def idempotency(request: web.Request, handler):
        if request.method == "DELETE" and request.path == "/_config/data":
            answers.clear()  # flushing the store forgets the answers it held too
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        cache_key = (request.headers.get("Authorization", ""), request.path, key)
        if cache_key in answers:
            status, body, content_type = answers[cache_key]
            response = web.Response(status=status, body=body, content_type=content_type)
            response.headers["Idempotent-Replayed"] = "true"
            return response
        try:
            response = await handler(request)
        except web.HTTPException:
            raise
        # Stripe stores the first answer, errors included (a 402 decline is replayed as a 402).
        # localstripe raises its errors as UserError, which its outer middleware turns into a
        # response; catch it here to store it.
        except Exception as exc:
            if hasattr(exc, "to_response"):
                response = exc.to_response()
            else:
                raise
        if response.status < 500:
            answers[cache_key] = (response.status, response.body, response.content_type)
        return response

    return idempotency


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--state", help="pickle file of the store (default: memory only)")
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-secret")
    args = parser.parse_args(argv)

    _use_state_file(args.state)
    resources.store.try_load_from_disk()
    configure_delay, answer_delay = _answer_delay_middleware()
    server.app.router.add_post("/_config/answer_delay", configure_delay)
    # Outside the idempotency middleware: the answer is stored before the delay starts, as
    # Stripe has recorded a request whose answer is still on its way back.
    server.app.middlewares.append(answer_delay)
    server.app.middlewares.append(_idempotency_middleware())
    if args.webhook_url and args.webhook_secret:
        webhooks.register_webhook("portal", args.webhook_url, args.webhook_secret, None)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    # Listening now: aiohttp runs on_startup (the announcement) before it starts serving the
    # socket, and a client that connects in between would be refused instead of waiting.
    sock.listen(128)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)

    async def announce(_app) -> None:
        print(f"localstripe listening on http://{args.host}:{port}", flush=True)

    server.app.on_startup.append(announce)
    web.run_app(server.app, sock=sock, print=None, access_log=logging.getLogger("aiohttp.access"))


if __name__ == "__main__":
    main()
