"""Per-request cost of each list endpoint of benchmarks/http_api.py, in-process (issue 17).

    .venv/bin/python benchmarks/list_endpoints.py [--endpoints sessions,groups,...] [--requests 60]
        [--profile sessions] [--top 40]

No server and no concurrent clients: one process with production settings (DEBUG off, a fresh
SQLite file in a temporary DATA_DIR, the data of benchmarks/api_data.py) sends each endpoint
--requests sequential GETs through Django's test client (the whole middleware, authentication,
view, serializer and renderer path; no socket or ASGI server) and prints, per endpoint:

- CPU ms per request: the fastest batch of 5 requests (process CPU time). On a shared machine the
  median moves with the other jobs' load; the fastest batch moves much less. Both are printed.
- Python function calls per request (cProfile's count over 5 requests): deterministic, so it shows
  a change in the work an endpoint does whatever the machine's load.
- SQL statements per request and the response size.

benchmarks/http_api.py measures what a client sees (requests/s against the bare view, server CPU
under concurrency); this is for finding and checking per-endpoint work quickly. --profile NAME
prints cProfile's top functions (cumulative) for that endpoint.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.http_api import ENDPOINTS  # noqa: E402
from benchmarks.http_mix import server_env  # noqa: E402

BATCH = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS), help="comma-separated subset of: " + ", ".join(ENDPOINTS))
    parser.add_argument("--requests", type=int, default=60, help="timed requests per endpoint (batches of 5)")
    parser.add_argument("--profile", default="", help="print cProfile's top functions for this endpoint")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="cumulative", choices=["cumulative", "tottime", "ncalls"],
                        help="cProfile's order for --profile (tottime: where the time itself is spent)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = [n for n in args.endpoints.split(",") if n]
    unknown = set(names) - set(ENDPOINTS)
    if unknown or not BATCH <= args.requests <= 2000 or (args.profile and args.profile not in ENDPOINTS):
        parser.error(f"unknown endpoints {sorted(unknown)}" if unknown else "requests 5-2000; --profile names one endpoint")
    if args.inside:
        return measure(args, names)
    data_dir = Path(tempfile.mkdtemp(prefix="tutorhub-listcost-"))
    try:
        env = server_env(data_dir, "list-endpoints")
        env["ALLOWED_HOSTS"] += ",testserver"  # Django's test client's host
        return subprocess.run([sys.executable, __file__, "--inside", *sys.argv[1:]], cwd=ROOT, env=env, timeout=1800).returncode
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def measure(args: argparse.Namespace, names: list[str]) -> int:
    import cProfile
    import pstats

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from rest_framework_simplejwt.tokens import RefreshToken

    from benchmarks.api_data import seed

    print("setting up (migrate, seed) ...", flush=True)
    call_command("migrate", verbosity=0)
    data = seed()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(data['user']).access_token}")
    print(f"{'endpoint':14s} {'CPU ms/req':>10s} {'median':>7s} {'calls/req':>9s} {'queries':>7s} {'KB':>7s}  load")
    for name in names:
        url = ENDPOINTS[name].format(session=data["session"].pk)
        for _ in range(3):  # warm: first-use imports and caches
            response = client.get(url)
        if response.status_code != 200:
            print(f"{name}: {url} answered {response.status_code}: {response.content[:300]!r}")
            return 1
        statements: list[str] = []

        def count(execute, sql, params, many, context, statements=statements):
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get(url)
        batches = []
        for _ in range(args.requests // BATCH):
            start = time.process_time()
            for _ in range(BATCH):
                client.get(url)
            batches.append((time.process_time() - start) / BATCH * 1000)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(BATCH):
            client.get(url)
        profiler.disable()
        calls = pstats.Stats(profiler).total_calls // BATCH
        print(f"{name:14s} {min(batches):10.2f} {statistics.median(batches):7.2f} {calls:9d} {len(statements):7d} "
              f"{len(response.content) / 1024:7.1f}  {os.getloadavg()[0]:.2f}", flush=True)
        if name == args.profile:
            pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
