"""Benchmark: order-to-create latency while an invoice run and a webhook burst are in progress.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_queues.py

Starts its own lucidsim, its own redis-server, a scratch PostgreSQL database and the workers of
`make run` (Procfile: one worker per queue; `--layout single`: one worker serving every queue,
as Procfile.single), no beat. Loads a month of hourly samples for 2,000 filespaces (bench_billing's
seed), a webhook subscription pointing at a local receiver, and 10,000 pending deliveries. Then:

1. idle: places ``--orders`` orders, one every ``--spacing`` seconds, and measures each one's
   order-to-create latency (the filespace's ``requested_at`` to ``created_remote_at``, the moment
   the worker recorded LucidLink's answer to the create POST);
2. loaded: moves 10,000 ``deliver_webhook`` messages (sent beforehand to a queue nobody serves,
   because sending them one by one takes minutes on a loaded machine) into the webhooks queue at
   once, sends the invoice run of the month, places the same number of orders the same way and
   measures again, noting how many orders were placed while the invoice run was still running
   and how many deliveries were still waiting.

Before the idle phase a few warm-up orders make every worker fetch its LucidLink token and
the MSP's domain, so the idle figure is not a cold start.

It prints p50/p95/max of both runs and the ratio of the p95s (aim: at most 1.5). Without
PostgreSQL it stops with a message.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_billing  # noqa: E402
import bench_provisioning  # noqa: E402

# The Procfile's layout (queue names from portal/queues.py, concurrency per worker).
SPLIT = [("provisioning", 2), ("billing", 1), ("webhooks", 2), ("email,default", 1)]
SINGLE = [("provisioning,email,webhooks,default,billing", 2)]


class Receiver(BaseHTTPRequestHandler):
    """A webhook endpoint that takes a little while to answer, like a real one."""

    latency = 0.01

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(self.latency)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def start_receiver(latency: float) -> ThreadingHTTPServer:
    Receiver.latency = latency
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_workers(layout, prefix: str, workdir: Path) -> list[subprocess.Popen]:
    workers = []
    for index, (queues, concurrency) in enumerate(layout):
        names = ",".join(f"{prefix}{queue}" for queue in queues.split(","))
        log = (workdir / f"worker-{index}.log").open("w")
        workers.append(
            subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "portal", "worker",
                    f"--loglevel={os.environ['LOG_LEVEL']}", "--pool=prefork",
                    f"--concurrency={concurrency}", "-Q", names, "-n", f"{prefix}{index}@%h",
                    "--without-gossip", "--without-mingle",
                ],
                cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )  # fmt: skip
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, 15)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, 9)


def seed_deliveries(count: int, url: str) -> list[int]:
    from django.utils import timezone

    from portal.webhooks.models import Delivery, Event, Subscription

    subscription = Subscription.objects.create(
        url=url, event_types=["order.placed"], secret="bench-webhook-secret"
    )
    now = timezone.now()
    events = Event.objects.bulk_create(
        Event(event_type="order.placed", dedupe_key=f"bench-{n}", data={"n": n}, created_at=now)
        for n in range(count)
    )
    deliveries = Delivery.objects.bulk_create(
        Delivery(subscription=subscription, event=event, next_attempt_at=now) for event in events
    )
    return [delivery.pk for delivery in deliveries]


def hold_deliveries(ids: list[int], hold: str) -> None:
    """Send a deliver_webhook message per id to `hold`, a queue no worker serves (4 threads)."""
    from portal.webhooks.tasks import deliver_webhook

    def send(chunk: list[int]) -> None:
        for delivery_id in chunk:
            deliver_webhook.apply_async((delivery_id,), queue=hold)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, [ids[index::4] for index in range(4)]))


def release_deliveries(redis_port: int, hold: str, queue: str) -> int:
    """Move every held message into the webhooks queue at once, oldest first (as BRPOP takes)."""
    import redis

    client = redis.Redis(port=redis_port, db=0)
    count = client.llen(hold)
    pipe = client.pipeline(transaction=False)
    for _ in range(count):
        pipe.rpoplpush(hold, queue)
    pipe.execute()
    return count


def wait_until_ready(workers: list[subprocess.Popen], prefix: str, timeout: float = 300) -> None:
    """Until every worker answers a control ping (each is named after the prefix)."""
    from portal.celery import app

    deadline = time.monotonic() + timeout
    while True:
        replies = app.control.ping(timeout=2.0)
        names = {name for reply in replies for name in reply if name.startswith(prefix)}
        if len(names) >= len(workers):
            return
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            raise SystemExit(f"workers did not start ({sorted(names)} answered)")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", choices=["split", "single"], default="split")
    parser.add_argument("--orders", type=int, default=30, help="orders per phase")
    parser.add_argument("--spacing", type=float, default=0.5, help="seconds between orders")
    parser.add_argument("--customers", type=int, default=200, help="x10 filespaces invoiced")
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--webhook-latency", type=float, default=0.01, help="receiver, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")):
        print("bench_queues needs PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="bench-queues-"))
    db_name = f"bench_queues_{uuid.uuid4().hex[:8]}"
    sim, sim_url = bench_provisioning.start_lucidsim(0.0, workdir)
    redis_server, redis_port = bench_provisioning.start_redis(workdir)
    receiver = start_receiver(args.webhook_latency)
    workers: list[subprocess.Popen] = []
    database_url = bench_provisioning.scratch_database(base_url, db_name)
    try:
        prefix = f"bench-{uuid.uuid4().hex[:8]}-"
        os.environ.update(
            {
                "DEBUG": os.environ.get("DEBUG", "true"),
                "DATABASE_URL": database_url,
                "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/1",
                "CELERY_QUEUE_PREFIX": prefix,
                "LUCIDLINK_API_URL": f"{sim_url}/api/v1",
                "LUCIDLINK_TOKEN_URL": f"{sim_url}/oauth2/token",
                "LUCIDLINK_CLIENT_ID": bench_provisioning.CLIENT_ID,
                "LUCIDLINK_CLIENT_SECRET": bench_provisioning.CLIENT_SECRET,
                "WEBHOOK_ALLOW_LOOPBACK": "true",
                "VAR_DIR": str(workdir),
                "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            }
        )
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        import django

        django.setup()
        from django.core.management import call_command
        from django.db.models import Count

        from billing.models import Invoice
        from portal.customers.models import Customer
        from portal.plans.models import Plan
        from portal.webhooks.models import Delivery
        from provisioning.models import Filespace
        from provisioning.services.ordering import order_place

        call_command("migrate", verbosity=0)
        started = time.monotonic()
        filespaces, _user = bench_billing.seed(args.customers, 10, 0.01)
        print(f"seeded {len(filespaces)} filespaces with a month of samples "
              f"in {time.monotonic() - started:.0f} s")  # fmt: skip
        delivery_ids = seed_deliveries(args.deliveries, f"http://127.0.0.1:{receiver.server_port}/")
        hold = f"{prefix}held-webhooks"
        started = time.monotonic()
        hold_deliveries(delivery_ids, hold)
        print(f"sent {len(delivery_ids)} deliveries to a held queue in "
              f"{time.monotonic() - started:.0f} s")  # fmt: skip
        plan = Plan.objects.get(slug="teams")

        workers = start_workers(SPLIT if args.layout == "split" else SINGLE, prefix, workdir)
        wait_until_ready(workers, prefix)

        def place_orders(phase: str, sample=None) -> tuple[list[float], list]:
            customer = Customer.objects.create(
                name=f"Orders {phase}", name_prefix=f"o{phase}", billing_email="o@example.com",
                country="GB",
            )  # fmt: skip
            samples = []
            for n in range(args.orders):
                if sample is not None:
                    samples.append(sample())
                order_place(
                    customer=customer, plan=plan, name=f"fs{n}", provider="IBM",
                    region="us-east", idempotency_key=f"{phase}-{n}",
                )  # fmt: skip
                time.sleep(args.spacing)
            rows = Filespace.objects.filter(customer=customer)
            deadline = time.monotonic() + 300
            while rows.filter(created_remote_at=None).exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            latencies = [
                (fs.created_remote_at - fs.requested_at).total_seconds()
                for fs in rows.exclude(created_remote_at=None)
            ]
            if len(latencies) < args.orders:
                print(f"  {phase}: only {len(latencies)} of {args.orders} created within 300 s")
            return latencies, samples

        saved_orders, args.orders = args.orders, 3
        place_orders("warmup")
        args.orders = saved_orders
        idle, _ = place_orders("idle")

        invoices_expected = args.customers
        run_sent = time.monotonic()
        from billing.tasks import run_invoices

        released = release_deliveries(redis_port, hold, f"{prefix}webhooks")
        run_invoices.delay(2026, 6)
        sent_in = time.monotonic() - run_sent
        pending = Delivery.objects.filter(state=Delivery.State.PENDING)
        while pending.count() >= args.deliveries and time.monotonic() - run_sent < 60:
            time.sleep(0.2)  # until the webhook workers are at it

        def sample() -> tuple[bool, int]:
            return Invoice.objects.count() < invoices_expected, pending.count()

        loaded, samples = place_orders("loaded", sample)
        during_run = sum(1 for running, _ in samples if running)
        waiting = [n for _, n in samples]
        invoice_done = None
        while time.monotonic() - run_sent < 900:
            if Invoice.objects.count() >= invoices_expected:
                invoice_done = time.monotonic() - run_sent
                break
            time.sleep(0.5)

        def line(label: str, values: list[float]) -> str:
            return (
                f"{label:<8} n={len(values):3d}  p50 {statistics.median(values) * 1000:7.0f} ms  "
                f"p95 {percentile(values, 0.95) * 1000:7.0f} ms  max {max(values) * 1000:7.0f} ms"
            )

        print(f"layout: {args.layout} ({SPLIT if args.layout == 'split' else SINGLE})")
        print(f"orders per phase: {args.orders}, one every {args.spacing:g} s")
        print(line("idle", idle))
        print(line("loaded", loaded))
        print(
            f"load: invoice run of {len(filespaces)} filespaces sent with {released} "
            f"webhook deliveries ({sent_in:.1f} s to send); the run finished "
            + (f"{invoice_done:.0f} s after it was sent" if invoice_done else "not within 900 s")
        )
        print(
            f"  orders placed while the invoice run was running: {during_run} of {args.orders}; "
            f"deliveries waiting at the first order {waiting[0]}, at the last {waiting[-1]}"
        )
        states = dict(Delivery.objects.values_list("state").annotate(n=Count("id")))
        print(f"  deliveries now: {states}")
        ratio = percentile(loaded, 0.95) / percentile(idle, 0.95)
        verdict = "met" if ratio <= 1.5 else "NOT met"
        print(f"p95 loaded / idle: {ratio:.2f} (aim <= 1.5: {verdict})")
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        return 0
    finally:
        stop_workers(workers)
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 - cleanup must go on when Django never started
            pass
        receiver.shutdown()
        sim.terminate()
        redis_server.terminate()
        bench_provisioning.scratch_database(base_url, db_name, drop=True)
        if args.keep:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
