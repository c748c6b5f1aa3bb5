"""HTTP API speed, side by side with a bare Django + DRF view (issue 17).

    .venv/bin/python benchmarks/http_api.py [--clients 50] [--seconds 30] [--reps 3]
        [--endpoints profile,flashcards,...] [--short] [--write-baseline] [--check-baseline]

It builds a ~30-line bare Django + DRF project in a temporary folder (one model, a ListAPIView
returning 20 small rows from SQLite as JSON), and starts it and TutorHub with the same uvicorn
options (TutorHub as `make run` serves it: `manage.py runall --server-only`, production settings,
DEBUG off, throttling off, a fresh SQLite file in a temporary DATA_DIR). One student is seeded
with realistic data (benchmarks/api_data.py): 100 flashcards made from chunks of 6 documents
whose extracted_text is ~300 KB each, 50 chat sessions with messages, 20 quizzes of 5
questions, 60 notifications and 10 groups of 16 students. Then, in each repetition, every
endpoint and, just before it, the bare view get --clients concurrent keep-alive clients for
--seconds.

Per endpoint it prints requests/s (median of the repetitions), p50/p95 latency, the server's CPU
per request (user + system time of the server process from /proc, over the run, divided by the
requests answered), SQL queries per request (the X-Query-Count header, which TutorHub only sends
with QUERY_COUNT_HEADER=1 — set here, never by default), and the ratio of its requests/s to the
bare view's from the same repetition (median over repetitions). Ratios, not absolute figures,
are what carry between machines and loads.

"CPU ratio" is the bare view's server CPU per request over the endpoint's, from the same pair of
runs. It is what --check-baseline compares: the requests/s ratio moves with the machine's load
(sessions 0.37 at load 10, 0.24 at load 5, same code), the CPU ratio hardly (0.174 and 0.174).
--write-baseline stores both in benchmarks/http_api_baseline.json; --check-baseline exits 1
when any endpoint's CPU ratio is more than 30% below its stored figure (the CI step runs
`--short --check-baseline`). --short: 20 clients, 2 s, 3 repetitions (110 s of load, plus
the setup).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chat_stream import cpu_seconds, free_port, stop_process  # noqa: E402
from benchmarks.http_mix import server_env  # noqa: E402
from tutorhub.core.management.commands.runall import SERVER_OPTIONS  # noqa: E402

BASELINE = Path(__file__).with_name("http_api_baseline.json")
ALLOWED_DROP = 0.30  # --check-baseline fails below (1 - this) x the stored ratio

# The bare reference: what a list endpoint costs with nothing but Django, DRF and SQLite.
BARE_SETTINGS = '''
import os
BASE = os.path.dirname(os.path.abspath(__file__))
DEBUG, SECRET_KEY, ALLOWED_HOSTS, USE_TZ = False, "bare-" + "x" * 50, ["*"], True
ROOT_URLCONF = "bare.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework", "bare"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(BASE, "bare.sqlite3")}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [], "DEFAULT_PERMISSION_CLASSES": [],
                  "UNAUTHENTICATED_USER": None, "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]}
'''
BARE_MODELS = '''
from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
'''
BARE_URLS = '''
from django.urls import path
from rest_framework import generics, serializers

from bare.models import Item


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = ["id", "name", "created_at"]


class ItemList(generics.ListAPIView):
    queryset = Item.objects.order_by("id")[:20]
    serializer_class = ItemSerializer


urlpatterns = [path("items/", ItemList.as_view())]
'''

BARE_ASGI = '''
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bare_settings")
from django.core.asgi import get_asgi_application
application = get_asgi_application()
'''

# Runs inside `manage.py shell` against TutorHub's database (benchmarks/api_data.py); prints one
# JSON line with the student's access token and the chat session the messages list reads.
SETUP_SCRIPT = """
import json
from rest_framework_simplejwt.tokens import RefreshToken
from benchmarks.api_data import seed
data = seed()
print("BENCH-SETUP " + json.dumps({"token": str(RefreshToken.for_user(data["user"]).access_token),
                                   "session": str(data["session"].pk)}))
"""

ENDPOINTS = {
    "profile": "/api/v1/accounts/profile/",
    "flashcards": "/api/v1/assessments/flashcards/",
    "sessions": "/api/v1/chat/sessions/",
    "chats": "/api/v1/chat/chats/",
    "documents": "/api/v1/knowledge/documents/",
    "messages": "/api/v1/chat/chats/{session}/messages/",
    "quizzes": "/api/v1/assessments/quizzes/",
    "notifications": "/api/v1/notifications/",
    "groups": "/api/v1/courses/groups/",
}


def uvicorn_argv(app: str, port: int) -> list[str]:
    """The bare project under the options runall passes to uvicorn.run (SERVER_OPTIONS)."""
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--lifespan", "off", "--log-level", "warning", "--no-proxy-headers"]
    for key, value in SERVER_OPTIONS.items():
        argv += ["--" + key.replace("_", "-"), str(value)]
    return argv


class Server:
    def __init__(self, name: str, argv: list[str], port: int, cwd: Path, env: dict, log: Path):
        self.name, self.url = name, f"http://127.0.0.1:{port}"
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.log_path = log
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, path: str) -> None:
        deadline = time.monotonic() + 180  # a loaded 2-core machine takes a while to import Django
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited:\n" + self.log_path.read_text())
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit(f"{self.name} did not start:\n" + self.log_path.read_text())

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()


async def drive(url: str, headers: dict, clients: int, seconds: float) -> tuple[list[float], int, Counter, list[int]]:
    """`clients` keep-alive clients, each sending its next request when the last one is answered.
    Returns the latencies, how many answers came within the `seconds` (the throughput: the answers
    still in flight at the end are drained, and would otherwise count against a slower server
    more), the errors by kind (an HTTP status, or the transport exception's name) and the
    X-Query-Count figures."""
    latencies: list[float] = []
    in_window = 0
    errors: Counter = Counter()
    queries: list[int] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0), headers=headers) as client:
        deadline = time.monotonic() + seconds

        async def one_client() -> None:
            nonlocal in_window
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    response = await client.get(url)
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1
                    continue
                if response.status_code != 200:
                    errors[str(response.status_code)] += 1
                    continue
                finished = time.monotonic()
                latencies.append(finished - started)
                in_window += finished <= deadline
                if "x-query-count" in response.headers:
                    queries.append(int(response.headers["x-query-count"]))

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return latencies, in_window, errors, queries


def measure(server: Server, url: str, headers: dict, clients: int, seconds: float) -> dict:
    cpu_before = server.cpu()
    latencies, in_window, errors, queries = asyncio.run(drive(url, headers, clients, seconds))
    cpu = server.cpu() - cpu_before  # over every answered request, the drained ones included
    latencies.sort()
    n = len(latencies)
    return {
        "rps": in_window / seconds,
        "p50": latencies[n // 2] if n else float("nan"),
        "p95": latencies[min(n - 1, int(n * 0.95))] if n else float("nan"),
        "cpu_ms": 1000 * cpu / n if n else float("nan"),
        "queries": statistics.median(queries) if queries else None,
        "errors": dict(errors),
    }


def build_bare(folder: Path, env: dict) -> None:
    (folder / "bare_settings.py").write_text(BARE_SETTINGS)
    (folder / "bare").mkdir()
    (folder / "bare" / "__init__.py").write_text("")
    (folder / "bare" / "models.py").write_text(BARE_MODELS)
    (folder / "bare" / "urls.py").write_text(BARE_URLS)
    (folder / "bare_asgi.py").write_text(BARE_ASGI)
    script = ("import django; django.setup(); from django.core.management import call_command; "
              "call_command('migrate', run_syncdb=True, verbosity=0); from bare.models import Item; "
              "Item.objects.bulk_create([Item(name=f'item {i}') for i in range(50)])")
    subprocess.run([sys.executable, "-c", script], cwd=folder, env={**env, "DJANGO_SETTINGS_MODULE": "bare_settings"},
                   check=True, timeout=300)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS), help="comma-separated subset of: " + ", ".join(ENDPOINTS))
    parser.add_argument("--short", action="store_true", help="CI mode: 20 clients, 2 s, 3 repetitions")
    parser.add_argument("--write-baseline", action="store_true", help=f"store the ratios in {BASELINE.name}")
    parser.add_argument("--check-baseline", action="store_true", help="exit 1 if a ratio is >30%% below the stored one")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if args.short:
        args.clients, args.seconds, args.reps = 20, 2.0, 3
    names = [n for n in args.endpoints.split(",") if n]
    unknown = set(names) - set(ENDPOINTS)
    if unknown or not 0 < args.clients <= 500 or not 0 < args.seconds <= 300 or not 0 < args.reps <= 10:
        parser.error(f"unknown endpoints {sorted(unknown)}" if unknown else "clients 1-500, seconds 0-300, reps 1-10")

    tmp = Path(tempfile.mkdtemp(prefix="tutorhub-httpapi-"))
    servers: list[Server] = []
    try:
        results = run(args, names, tmp, servers)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(args, names, results)


def seeded_tutorhub(root: Path, data_dir: Path, name: str) -> tuple[dict, dict]:
    """The environment of a TutorHub server for the source tree `root` (production settings, the
    embedded defaults, its own fresh SQLite in `data_dir`), migrated and seeded by SETUP_SCRIPT;
    and what the seeding printed (the user's token, the session to read)."""
    env = {**server_env(data_dir, name), "QUERY_COUNT_HEADER": "1"}
    env.pop("REDIS_URL", None)  # the embedded defaults, like the bare project
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=root, env=env, check=True, timeout=600)
    setup = subprocess.run([sys.executable, "manage.py", "shell", "-c", SETUP_SCRIPT], cwd=root, env=env,
                           capture_output=True, text=True, timeout=600)
    if setup.returncode:
        raise SystemExit("seeding failed:\n" + setup.stderr[-3000:])
    return env, json.loads(next(line for line in setup.stdout.splitlines() if line.startswith("BENCH-SETUP "))[12:])


def tutorhub_server(label: str, root: Path, env: dict, log: Path) -> Server:
    """`runall --server-only` of the source tree `root` on a free port (started, not yet ready)."""
    port = free_port()
    argv = [sys.executable, "manage.py", "runall", "--server-only", "--port", str(port), "--log-level", "warning"]
    return Server(label, argv, port, root, env, log)


def run(args: argparse.Namespace, names: list[str], tmp: Path, servers: list[Server]) -> dict:
    data_dir, bare_dir = tmp / "data", tmp / "bare"
    data_dir.mkdir()
    bare_dir.mkdir()
    print("setting up (migrate, seed, bare project) ...", flush=True)
    env, seeded = seeded_tutorhub(ROOT, data_dir, "http-api")
    bare_env = {k: v for k, v in env.items() if k not in ("DJANGO_SETTINGS_MODULE", "QUERY_COUNT_HEADER")}
    bare_env["PYTHONPATH"] = str(bare_dir)
    build_bare(bare_dir, bare_env)

    bare_port = free_port()
    servers.append(tutorhub_server("tutorhub", ROOT, env, tmp / "tutorhub.log"))
    servers.append(Server("bare", uvicorn_argv("bare_asgi:application", bare_port), bare_port, bare_dir, bare_env, tmp / "bare.log"))
    tutorhub, bare = servers
    tutorhub.wait_ready("/healthz")
    bare.wait_ready("/items/")

    auth = {"Authorization": f"Bearer {seeded['token']}"}
    urls = {name: tutorhub.url + ENDPOINTS[name].format(session=seeded["session"]) for name in names}
    for name, url in urls.items():  # warm up each path (first-use imports) and check it answers
        response = httpx.get(url, headers=auth, timeout=60)
        if response.status_code != 200:
            raise SystemExit(f"{name}: {url} answered {response.status_code}: {response.text[:300]}")
    asyncio.run(drive(bare.url + "/items/", {}, 5, 1.0))

    load_before = os.getloadavg()
    print(f"{args.clients} clients x {args.seconds:g} s x {args.reps} reps; load average {load_before[0]:.2f}", flush=True)
    runs: dict[str, list[dict]] = {"bare": [], **{n: [] for n in names}}
    for rep in range(args.reps):
        # Each endpoint right after its own bare run: the machine's load drifts within seconds
        # (other jobs), and a ratio of two runs apart by a minute measured that drift.
        for name in names:
            bare_run = measure(bare, bare.url + "/items/", {}, args.clients, args.seconds)
            runs["bare"].append({**bare_run, "ratio": 1.0, "cpu_ratio": 1.0})
            result = measure(tutorhub, urls[name], auth, args.clients, args.seconds)
            result["ratio"] = result["rps"] / bare_run["rps"]
            result["cpu_ratio"] = bare_run["cpu_ms"] / result["cpu_ms"]
            runs[name].append(result)
        print(f"  rep {rep + 1}/{args.reps} done", flush=True)
    runs["_load"] = [{"before": load_before[0], "after": os.getloadavg()[0]}]
    return runs


def summarize(rows: list[dict]) -> dict:
    med = lambda key: statistics.median(r[key] for r in rows)  # noqa: E731
    queries = [r["queries"] for r in rows if r["queries"] is not None]
    return {
        "rps": med("rps"), "ratio": med("ratio"), "cpu_ratio": med("cpu_ratio"), "p50_ms": 1000 * med("p50"), "p95_ms": 1000 * med("p95"),
        "cpu_ms": med("cpu_ms"), "queries": max(queries) if queries else None,
        "errors": dict(sum((Counter(r["errors"]) for r in rows), Counter())),
    }


def report(args: argparse.Namespace, names: list[str], runs: dict) -> int:
    load = runs.pop("_load")[0]
    summary = {name: summarize(rows) for name, rows in runs.items()}
    print(f"\nload average {load['before']:.2f} -> {load['after']:.2f}")
    print(f"{'endpoint':<14} {'req/s':>7} {'ratio':>6} {'p50 ms':>7} {'p95 ms':>7} {'CPU ms/req':>10} {'CPU ratio':>9} "
          f"{'queries':>7} {'errors':>6}")
    for name, s in summary.items():
        path = "/items/ (bare)" if name == "bare" else ENDPOINTS[name]
        queries = "-" if s["queries"] is None else f"{s['queries']:g}"
        errors = ",".join(f"{kind}x{n}" for kind, n in sorted(s["errors"].items())) or "0"
        print(f"{name:<14} {s['rps']:>7.1f} {s['ratio']:>6.2f} {s['p50_ms']:>7.0f} {s['p95_ms']:>7.0f} "
              f"{s['cpu_ms']:>10.1f} {s['cpu_ratio']:>9.2f} {queries:>7} {errors:>6}   {path}")
    if args.json:
        Path(args.json).write_text(json.dumps({"load": load, "summary": summary, "runs": runs}, indent=2))
    ratios = {name: round(s["ratio"], 3) for name, s in summary.items() if name != "bare"}
    cpu_ratios = {name: round(s["cpu_ratio"], 3) for name, s in summary.items() if name != "bare"}
    status = 0
    # An error status is a failure; a transport error alone is not (under heavy load a keep-alive
    # connection the server closes as the client reuses it reads as ReadError), but it is shown.
    if any(kind.isdigit() for s in summary.values() for kind in s["errors"]):
        print("errors: some requests were answered with an error status (see above)")
        status = 1
    if args.write_baseline:
        stored = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
        stored.update({"ratios": {**stored.get("ratios", {}), **ratios},
                       "cpu_ratios": {**stored.get("cpu_ratios", {}), **cpu_ratios},
                       "measured": f"--clients {args.clients} --seconds {args.seconds:g} --reps {args.reps}, "
                                   f"load average {load['before']:.2f}"})
        BASELINE.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
        print(f"wrote {BASELINE.relative_to(ROOT)}")
    if args.check_baseline:
        stored = json.loads(BASELINE.read_text())["cpu_ratios"]
        for name, ratio in cpu_ratios.items():
            if name in stored and ratio < (1 - ALLOWED_DROP) * stored[name]:
                print(f"REGRESSION {name}: CPU ratio {ratio:.2f} < {1 - ALLOWED_DROP:.0%} of the committed {stored[name]:.2f}")
                status = 1
        if status == 0:
            print(f"ratios within {ALLOWED_DROP:.0%} of {BASELINE.name}")
    return status


if __name__ == "__main__":
    sys.exit(main())
