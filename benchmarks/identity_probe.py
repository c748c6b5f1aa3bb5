"""Client identity, login limits and login-under-load probes against a real server (issues 11, 12).

    .venv/bin/python benchmarks/identity_probe.py [--tree PATH] [--logins 12] [--writes 12]

Starts TutorHub from --tree (default: this checkout; pass an exported older commit, e.g.
`git archive d7afdab | tar -x -C /tmp/before`, to get "before" figures) with `manage.py runall
--server-only` on a loopback port and a fresh SQLite database, once per probe (rate-limit
counters live in the server's memory), and prints one line per probe:

  login_xff     60 wrong-password API logins, each with a new X-Forwarded-For: how many were
                checked (401) before the first 429
  web_xff       the same 40 times through the web login form (with its CSRF token)
  anon_xff      40 anonymous calls, rotating X-Forwarded-For: how many passed before a 429
  account       behind a trusted proxy (TRUSTED_PROXIES=127.0.0.1), 100 wrong passwords from
                100 client addresses, then the right one: its status
  redis_down    REDIS_URL at a closed port: status of an anonymous call and of a login
  sqlite_lock   --logins logins (the default PBKDF2 hasher) racing --writes writes on SQLite,
                2 server processes: failed writes and the slowest write

Everything runs on 127.0.0.1; every loop is bounded.

Measured on the 2-core dev machine (shared), d7afdab -> this change:
  login_xff    never 429 in 60                -> first 429 at #7 (account lockout; 30/min per address too)
  web_xff      never 429 in 40                -> first 429 at #7 (same limits as the API)
  anon_xff     never 429 in 40                -> first 429 at #21 (20/min per socket address)
  account      100/100 checked, right one 200 -> 7/100 checked, right one 429 (Retry-After 4 s)
  redis_down   500 and 500                    -> 400 and 200 (one warning a minute in the log)
  sqlite_lock  7/12 writes, 8/12 logins fail  -> 0/12 and 0/12 ("database is locked" gone)
Write latency stays ~6 s median in sqlite_lock on both: Django runs an ASGI process's sync views
on one thread, so writes queue behind the ~1 s PBKDF2 hashes of the logins in that process.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chat_stream import free_port, stop_process, wait_for_port  # noqa: E402

PASSWORD = "Bench-Passw0rd-42"


class Server:
    """A fresh database and one `runall --server-only` for the duration of a probe."""

    def __init__(self, tree: Path, *, users: int = 2, workers: int = 1, **env: str):
        self.tree, self.users, self.workers = tree, users, workers
        self.workdir = tempfile.mkdtemp(prefix="identity-probe-")
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATA_DIR": self.workdir,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "LOG_LEVEL": "ERROR",
            "DJANGO_SETTINGS_MODULE": "tutorhub.settings",
        }
        self.env.pop("REDIS_URL", None)  # the embedded stack unless a probe asks for Redis
        self.env.update(env)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        python = sys.executable
        for command in (["migrate"], ["collectstatic"]):  # DEBUG=0 serves pages from collected static files
            subprocess.run([python, "manage.py", *command, "--noinput", "-v", "0"], cwd=self.tree, env=self.env, check=True)
        script = (
            "from django.contrib.auth.hashers import make_password;"
            "from tutorhub.accounts.models import User;"
            f"h = make_password({PASSWORD!r});"
            f"User.objects.bulk_create([User(username=f'bench{{i}}', email=f'bench{{i}}@example.com', password=h) for i in range({self.users})])"
        )
        subprocess.run([python, "manage.py", "shell", "-c", script], cwd=self.tree, env=self.env, check=True, capture_output=True)
        self.process = subprocess.Popen(
            [python, "manage.py", "runall", "--server-only", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(self.workers), "--log-level", "error"],
            cwd=self.tree, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, timeout=60)
        return self

    def __exit__(self, *exc) -> None:
        stop_process(self.process)


def xff(i: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"198.51.{i // 250}.{i % 250 + 1}"}


def answered_before_429(statuses: list[int]) -> str:
    first = statuses.index(429) if 429 in statuses else None
    return f"{len(statuses)} sent, first 429 at #{first + 1}" if first is not None else f"{len(statuses)} sent, never 429"


def probe_login_xff(tree: Path) -> str:
    with Server(tree) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        statuses = [
            client.post("/api/v1/accounts/login/", json={"username": "bench0", "password": f"wrong-{i}"}, headers=xff(i)).status_code
            for i in range(60)
        ]
    return answered_before_429(statuses)


def probe_web_xff(tree: Path) -> str:
    with Server(tree) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        statuses = [
            client.post(
                "/accounts/login/",
                data={"username": "bench0", "password": f"wrong-{i}", "csrfmiddlewaretoken": token},
                headers=xff(i),
            ).status_code
            for i in range(40)
        ]
    return answered_before_429(statuses)


def probe_anon_xff(tree: Path) -> str:
    with Server(tree) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        statuses = [client.post("/api/token/refresh/", json={}, headers=xff(i)).status_code for i in range(40)]
    return answered_before_429(statuses)


def probe_account(tree: Path) -> str:
    with Server(tree, TRUSTED_PROXIES="127.0.0.1") as server, httpx.Client(base_url=server.url, timeout=30) as client:
        wrong = [
            client.post("/api/v1/accounts/login/", json={"username": "bench0", "password": f"wrong-{i}"}, headers=xff(i)).status_code
            for i in range(100)
        ]
        right = client.post("/api/v1/accounts/login/", json={"username": "bench0", "password": PASSWORD}, headers=xff(500))
    checked = wrong.count(401)
    retry = right.headers.get("Retry-After")
    return f"{checked}/100 wrong passwords checked; then the right one: {right.status_code}" + (
        f" (Retry-After {retry}s)" if retry else ""
    )


def probe_redis_down(tree: Path) -> str:
    with Server(tree, REDIS_URL="redis://127.0.0.1:1/0") as server, httpx.Client(base_url=server.url, timeout=60) as client:
        anon = client.post("/api/token/refresh/", json={}).status_code
        login = client.post("/api/v1/accounts/login/", json={"username": "bench0", "password": PASSWORD}).status_code
    return f"anonymous call {anon} (400 expected), login {login} (200 expected)"


def probe_sqlite_lock(tree: Path, logins: int, writes: int) -> str:
    env = {"THROTTLING_ENABLED": "0"}
    with Server(tree, users=logins + 1, workers=2, **env) as server:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            access = client.post("/api/v1/accounts/login/", json={"username": f"bench{logins}", "password": PASSWORD}).json()["access"]

        def login(i: int) -> tuple[str, int, float]:
            started = time.monotonic()
            with httpx.Client(base_url=server.url, timeout=120) as c:
                status = c.post("/api/v1/accounts/login/", json={"username": f"bench{i}", "password": PASSWORD}).status_code
            return "login", status, time.monotonic() - started

        def write(i: int) -> tuple[str, int, float]:
            time.sleep(0.3 + i * 0.2)  # spread over the time the logins hash
            started = time.monotonic()
            with httpx.Client(base_url=server.url, timeout=120, headers={"Authorization": f"Bearer {access}"}) as c:
                status = c.post("/api/sessions/", json={"title": f"probe {i}"}).status_code
            return "write", status, time.monotonic() - started

        with concurrent.futures.ThreadPoolExecutor(max_workers=logins + writes) as pool:
            futures = [pool.submit(login, i) for i in range(logins)] + [pool.submit(write, i) for i in range(writes)]
            results = [f.result() for f in futures]
    write_results = [r for r in results if r[0] == "write"]
    login_results = [r for r in results if r[0] == "login"]
    failed_writes = sum(1 for _, status, _ in write_results if status != 201)
    failed_logins = sum(1 for _, status, _ in login_results if status != 200)
    slowest = max(seconds for *_, seconds in write_results)
    median = sorted(seconds for *_, seconds in write_results)[len(write_results) // 2]
    return (
        f"{failed_writes}/{writes} writes failed, {failed_logins}/{logins} logins failed; "
        f"write latency median {median:.2f}s, max {slowest:.2f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=ROOT, help="source tree to run (default: this checkout)")
    parser.add_argument("--logins", type=int, default=12)
    parser.add_argument("--writes", type=int, default=12)
    parser.add_argument("--only", nargs="*", help="probe names to run (default: all)")
    args = parser.parse_args()
    probes = {
        "login_xff": lambda: probe_login_xff(args.tree),
        "web_xff": lambda: probe_web_xff(args.tree),
        "anon_xff": lambda: probe_anon_xff(args.tree),
        "account": lambda: probe_account(args.tree),
        "redis_down": lambda: probe_redis_down(args.tree),
        "sqlite_lock": lambda: probe_sqlite_lock(args.tree, args.logins, args.writes),
    }
    print(f"tree: {args.tree}")
    for name, probe in probes.items():
        if args.only and name not in args.only:
            continue
        started = time.monotonic()
        try:
            result = probe()
        except Exception as exc:  # noqa: BLE001 - a probe that cannot run is reported, the rest go on
            result = f"probe failed: {type(exc).__name__}: {exc}"
        print(f"{name:12} {result}  [{time.monotonic() - started:.0f}s]", flush=True)


if __name__ == "__main__":
    main()
