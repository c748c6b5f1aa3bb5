"""Webhook deliveries under several workers: how many POSTs each delivery costs, and how fast.

Creates N due webhook deliveries to a loopback receiver (which answers after --latency seconds,
like a real endpoint across a network), then lets W worker threads sweep them at the same time
with `webhook_deliveries_retry_due` - what each worker's periodic sweep does - until none is
pending. A delivery must reach its endpoint once: the figure to watch is "sent twice or more".
Prints deliveries, POSTs received, deliveries sent more than once, wall time, deliveries/s and
the load average (this machine is shared).

Runs on its own SQLite database in a temporary DATA_DIR (migrated first), or on PostgreSQL with
--database-url (a database of its own: the tables are created there). The task backend is the
immediate one, so a sweep's attempts run on the sweeping thread.

Usage:  python benchmarks/outbound_deliveries.py [--deliveries 200] [--workers 4] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def receiver(latency: float) -> tuple[ThreadingHTTPServer, Counter]:
    received: Counter = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(latency)
            with lock:
                received[self.headers.get("X-TutorHub-Delivery")] += 1
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the endpoint takes to answer")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL of a database for this run alone")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="tutorhub-delivery-bench-")
    os.environ.update(
        DATA_DIR=data_dir, TASKS_BACKEND="django_tasks.backends.immediate.ImmediateBackend",
        WEBHOOK_ALLOW_PRIVATE="1", WEBHOOK_TIMEOUT_SECONDS="10", EMBEDDING_BACKEND="none",
        DJANGO_SETTINGS_MODULE="tutorhub.settings",
    )
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from tutorhub.engagement.models import WebhookDelivery, WebhookEndpoint
    from tutorhub.engagement.webhooks import webhook_deliveries_retry_due

    call_command("migrate", verbosity=0)
    server, received = receiver(args.latency)
    try:
        user = get_user_model().objects.create_user(username=f"bench{time.time_ns()}", password="x" * 20)
        endpoint = WebhookEndpoint.objects.create(
            owner=user, url=f"http://127.0.0.1:{server.server_address[1]}/hook",
            events=["document.processing.completed"], secret="s",
        )
        now = timezone.now()
        WebhookDelivery.objects.bulk_create(
            WebhookDelivery(endpoint=endpoint, event="document.processing.completed", payload={"n": i}, next_attempt_at=now)
            for i in range(args.deliveries)
        )
        pending = WebhookDelivery.objects.filter(endpoint=endpoint, status="pending")
        barrier = threading.Barrier(args.workers)
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                barrier.wait(timeout=30)
                for _ in range(50):  # bounded: a sweep takes up to 200 rows
                    if not pending.exists():
                        break
                    webhook_deliveries_retry_due()
            except BaseException as exc:  # noqa: BLE001 - printed below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(args.workers)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        wall = time.perf_counter() - started
        if errors:
            print(f"worker errors: {len(errors)}, first: {errors[0]!r}")
        sent = sum(received.values())
        twice = sum(1 for n in received.values() if n > 1)
        done = WebhookDelivery.objects.filter(endpoint=endpoint, status="succeeded").count()
        print(f"deliveries {args.deliveries}, workers {args.workers}, endpoint latency {args.latency * 1000:.0f} ms, "
              f"database {connection.vendor}")
        print(f"succeeded {done}; POSTs received {sent} ({sent / args.deliveries:.2f} per delivery); "
              f"sent twice or more: {twice}")
        print(f"wall {wall:.2f} s; {done / wall:.1f} deliveries/s; load average {os.getloadavg()[0]:.1f}")
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
