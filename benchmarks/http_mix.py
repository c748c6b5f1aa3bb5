"""HTTP mix benchmark: a classroom's bounded load on one TutorHub server (issue 12).

    .venv/bin/python benchmarks/http_mix.py [--levels 20,50,100] [--seconds 20]
        [--database-url postgres://...] [--url http://127.0.0.1:8000] [--env KEY=VALUE ...]

Without --url it starts the server itself as `make run` serves it (`manage.py runall --server-only`,
production settings, DEBUG off) on a free loopback port, against a fresh SQLite file in a temporary
DATA_DIR, or against --database-url (migrated first; pass a database you can throw away). Users
(with a chat session and flashcards each) are created directly in the database in one batch,
sharing one pre-computed password hash, so setup does not hash a password per user.

At each level N, N virtual users run for --seconds, each request chosen at random with these
weights: chat session list 25%, send a chat message 20% (offline tutor), flashcard review 20%,
document list 25%, login 10% (a real password hash each). Throttling is switched off in the
server (THROTTLING_ENABLED=0): this measures the database under load, not the rate limits.

Per level it prints requests, throughput, errors by kind, p50/p95 latency (all requests and per
operation), and on PostgreSQL the peak number of connections to the database (pg_stat_activity,
polled every 100 ms). Error kinds: "locked" (SQLite "database is locked"), "slots" (PostgreSQL
refused a connection: "too many clients" / "remaining connection slots"), "pool" (waited longer
than DB_POOL_TIMEOUT for a pooled connection), other 5xx, 4xx, and transport (timeout/refused).
The first three are read from the server's log, which this script captures when it starts the
server; with --url only status codes and transport errors are counted.

--env KEY=VALUE (repeatable) is passed to the server, e.g. --env DB_POOL_MAX=0 --env
DB_CONN_MAX_AGE=60 for the settings before the connection pool.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chat_stream import free_port  # noqa: E402

PASSWORD = "bench-Password-1"
CARDS_PER_USER = 5
WEIGHTS = {"session_list": 25, "send_message": 20, "flashcard_review": 20, "document_list": 25, "login": 10}
LOG_KINDS = {
    "locked": re.compile(r"database is locked"),  # 500s before 503 DATABASE_BUSY; logged either way
    "slots": re.compile(r"too many clients|remaining connection slots|connection slots"),
    "pool": re.compile(r"PoolTimeout|couldn't get a connection after"),
}

# Runs inside `manage.py shell` against the server's database: users, a chat session and
# flashcards each, and a JWT per user; prints one JSON line.
SETUP_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from rest_framework_simplejwt.tokens import RefreshToken
from tutorhub.assessments.services import flashcard_create
from tutorhub.chat.services import chat_session_create

User = get_user_model()
prefix, count, cards, password = {prefix!r}, {count}, {cards}, {password!r}
hashed = make_password(password)
User.objects.bulk_create(
    [User(username=f"{{prefix}}{{i}}", email=f"{{prefix}}{{i}}@example.org", password=hashed, role="student")
     for i in range(count)]
)
out = []
for user in User.objects.filter(username__startswith=prefix).order_by("username"):
    session = chat_session_create(user=user, title="Benchmark")
    card_ids = [str(flashcard_create(user=user, question=f"Q{{n}}?", answer=f"A{{n}}").pk) for n in range(cards)]
    out.append({{"username": user.username, "token": str(RefreshToken.for_user(user).access_token),
                "session": str(session.pk), "cards": card_ids}})
print("BENCH-USERS " + json.dumps(out))
"""


def manage(*args: str, env: dict, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, check=True,
        capture_output=capture, text=True, timeout=600,
    )


class Server:
    """`manage.py runall --server-only` with its log in a file this script reads."""

    def __init__(self, env: dict, data_dir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "runall", "--server-only", "--port", str(self.port),
             "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180  # a loaded 2-core machine takes over a minute
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("server exited:\n" + self.log_path.read_text())
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("server did not start:\n" + self.log_path.read_text())

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def log_counts(self, since: int) -> Counter:
        with open(self.log_path, "rb") as f:
            f.seek(since)
            text = f.read().decode("utf-8", "replace")
        # Each failed request logs one traceback; its last line (at column 0) is the exception the
        # request failed with (Django's own, wrapping the driver's as "The above exception was the
        # direct cause"). Count those lines, by kind.
        counts: Counter = Counter()
        for line in re.findall(r"^(?:django\.db\.utils\.|psycopg\S*\.|sqlite3\.)?\w*(?:Error|Exception)\b.*$", text, re.M):
            if line.startswith(("psycopg", "sqlite3.")) and "django.db.utils." in text:
                continue  # the driver's error, the cause of a Django error counted on its own line
            kind = next((k for k, rx in LOG_KINDS.items() if rx.search(line)), None)
            counts[kind or "other: " + line[:100]] += 1
        # Answered 503 DATABASE_BUSY (tutorhub.core.exceptions): one warning line, no traceback.
        for reason in re.findall(r"Database busy in \w+ \((.*)\): 503", text):
            counts[next((k for k, rx in LOG_KINDS.items() if rx.search(reason)), "other: " + reason[:100])] += 1
        return counts

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self._log.close()


class PgConnectionPoller:
    """Peak number of backends connected to the benchmark's PostgreSQL database."""

    def __init__(self, database_url: str):
        import psycopg

        parts = urlparse(database_url)
        self.dbname = parts.path.lstrip("/")
        self.conn = psycopg.connect(database_url.replace("postgresql://", "postgres://", 1), autocommit=True)
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            row = self.conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (self.dbname,)
            ).fetchone()
            self.peak = max(self.peak, row[0])

    def start(self) -> None:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.peak

    def close(self) -> None:
        self.conn.close()


async def virtual_user(client: httpx.AsyncClient, user: dict, deadline: float, rng: random.Random, results: list) -> None:
    ops, weights = list(WEIGHTS), list(WEIGHTS.values())
    auth = {"Authorization": f"Bearer {user['token']}"}
    while time.monotonic() < deadline:
        op = rng.choices(ops, weights)[0]
        if op == "session_list":
            request = client.build_request("GET", "/api/v1/chat/chats/", headers=auth)
        elif op == "send_message":
            request = client.build_request(
                "POST", f"/api/v1/chat/chats/{user['session']}/send_message/", headers=auth,
                json={"content": rng.choice(["What is a fraction?", "Explain photosynthesis.", "What is 2 + 2?"])},
            )
        elif op == "flashcard_review":
            request = client.build_request(
                "POST", f"/api/v1/assessments/flashcards/{rng.choice(user['cards'])}/review/", headers=auth,
                json={"quality_response": rng.randint(0, 5)},
            )
        elif op == "document_list":
            request = client.build_request("GET", "/api/v1/knowledge/documents/", headers=auth)
        else:
            request = client.build_request(
                "POST", "/api/v1/accounts/login/", json={"username": user["username"], "password": PASSWORD}
            )
        started = time.monotonic()
        try:
            response = await client.send(request)
            status = response.status_code
        except httpx.HTTPError as exc:
            status = f"transport:{type(exc).__name__}"
        results.append((op, status, time.monotonic() - started))


async def run_level(url: str, users: list[dict], level: int, seconds: float, seed: int) -> list:
    results: list = []
    limits = httpx.Limits(max_connections=level, max_keepalive_connections=level)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=httpx.Timeout(60.0)) as client:
        deadline = time.monotonic() + seconds
        rng = random.Random(seed)
        await asyncio.gather(*(
            virtual_user(client, users[i % len(users)], deadline, random.Random(rng.random()), results)
            for i in range(level)
        ))
    return results


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(level: int, seconds: float, results: list, log_counts: Counter | None, peak: int | None) -> dict:
    statuses = Counter()
    for _op, status, _t in results:
        if isinstance(status, str):
            statuses["transport"] += 1
        elif status >= 500:
            statuses["5xx"] += 1
        elif status >= 400:
            statuses[f"{status}"] += 1
    latencies = [t for _op, _s, t in results]
    by_op = defaultdict(list)
    for op, _s, t in results:
        by_op[op].append(t)
    summary = {
        "users": level,
        "requests": len(results),
        "req_per_s": round(len(results) / seconds, 1),
        "errors": sum(statuses.values()),
        "error_kinds": dict(statuses),
        "locked": (log_counts or {}).get("locked", 0) if log_counts is not None else None,
        "slots": (log_counts or {}).get("slots", 0) if log_counts is not None else None,
        "pool_timeouts": (log_counts or {}).get("pool", 0) if log_counts is not None else None,
        "p50_ms": round(pct(latencies, 50) * 1000),
        "p95_ms": round(pct(latencies, 95) * 1000),
        "peak_db_connections": peak,
        "per_op_p50_p95_ms": {op: (round(pct(v, 50) * 1000), round(pct(v, 95) * 1000)) for op, v in sorted(by_op.items())},
    }
    print(
        f"{level:>5} users  {summary['requests']:>6} req  {summary['req_per_s']:>6} req/s  "
        f"errors {summary['errors']:>5} {summary['error_kinds'] or ''}  "
        f"locked {summary['locked'] if summary['locked'] is not None else '-'}  "
        f"slots {summary['slots'] if summary['slots'] is not None else '-'}  "
        f"pool-timeouts {summary['pool_timeouts'] if summary['pool_timeouts'] is not None else '-'}  "
        f"p50 {summary['p50_ms']} ms  p95 {summary['p95_ms']} ms  "
        f"peak DB connections {peak if peak is not None else '-'}"
    )
    print("        per op p50/p95 ms: " + ", ".join(f"{op} {a}/{b}" for op, (a, b) in summary["per_op_p50_p95_ms"].items()))
    others = {k: v for k, v in (log_counts or {}).items() if k.startswith("other")}
    summary["other_server_errors"] = others
    for kind, count in sorted(others.items(), key=lambda kv: -kv[1])[:5]:
        print(f"        server error x{count}: {kind}")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="20,50,100", help="comma-separated concurrent users per level")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each level")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""), help="default: a fresh SQLite file")
    parser.add_argument("--url", help="benchmark a running server instead (users are created via --database-url's DB)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (repeatable)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--json", help="also write the summaries here")
    parser.add_argument("--keep-log", help="copy the server's log here at the end")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    if not 0 < args.seconds <= 600 or not all(0 < n <= 1000 for n in levels):
        parser.error("levels must be 1-1000 users and --seconds 0-600")

    data_dir = Path(tempfile.mkdtemp(prefix="tutorhub-httpmix-"))
    try:
        run(args, levels, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def server_env(data_dir: Path, name: str) -> dict:
    """A benchmark server's environment: production settings (DEBUG off) on `data_dir`, throttling
    off (these measure the server, not the rate limits), none of the caller's database, LLM or
    task settings."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LLM_", "TASKS_", "DATABASE_URL"))},
        "DJANGO_SETTINGS_MODULE": "tutorhub.settings",
        "DATA_DIR": str(data_dir),
        "DEBUG": "0",
        "SECRET_KEY": f"{name}-benchmark-" + "k" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "THROTTLING_ENABLED": "0",
        "PYTHONUNBUFFERED": "1",
    }


def run(args: argparse.Namespace, levels: list[int], data_dir: Path) -> None:
    env = server_env(data_dir, "http-mix")
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    for item in args.env:
        key, _, value = item.partition("=")
        env[key] = value
    is_pg = args.database_url.startswith(("postgres://", "postgresql://"))
    print(f"database: {'PostgreSQL ' + urlparse(args.database_url).path.lstrip('/') if is_pg else 'SQLite (' + (args.database_url or str(data_dir / 'db.sqlite3')) + ')'}"
          f"; server env: {' '.join(args.env) or '(defaults)'}; {args.seconds:.0f} s per level")
    manage("migrate", "--noinput", "-v", "0", env=env)
    setup = manage("shell", "-c", SETUP_SCRIPT.format(
        prefix=f"bench{int(time.time())}u", count=max(levels), cards=CARDS_PER_USER, password=PASSWORD,
    ), env=env, capture=True)
    users = json.loads(next(line for line in setup.stdout.splitlines() if line.startswith("BENCH-USERS "))[12:])

    server = None if args.url else Server(env, data_dir)
    url = args.url or server.url
    poller = PgConnectionPoller(args.database_url) if is_pg else None
    summaries = []
    try:
        for i, level in enumerate(levels):
            mark = server.log_size() if server else 0
            if poller:
                poller.start()
            results = asyncio.run(run_level(url, users, level, args.seconds, args.seed + i))
            peak = poller.stop() if poller else None
            summaries.append(report(level, args.seconds, results, server.log_counts(mark) if server else None, peak))
    finally:
        if poller:
            poller.close()
        if server:
            server.stop()
            if args.keep_log:
                shutil.copy(server.log_path, args.keep_log)
    if args.json:
        Path(args.json).write_text(json.dumps(summaries, indent=2))


if __name__ == "__main__":
    main()
