"""Capacity of 1 and 2 TutorHub servers behind nginx (issue 15): chat streams and the HTTP mix.

    .venv/bin/python benchmarks/cluster_capacity.py [--servers 1,2] [--streams 100,200]
        [--turns 3] [--http-levels 50,100] [--http-seconds 15] [--json FILE]

For each server count, deploy/local-cluster starts the production topology (PostgreSQL, Redis,
a Chroma server, N `runall --server-only` processes, one worker, one scheduler, nginx in front)
with its LLM pointed at chat_stream.py's fake OpenAI-compatible upstream (first token after
0.3 s, then 20 tokens/s), so the real openai-SDK client streams. Then, through nginx:

* chat streams: chat_stream.py's conversations (one user and socket each, --turns messages one
  after another) at each --streams level; added latency to the first token = what the client
  saw minus what the upstream took (chat_stream.added_latencies), p50/p95;
* the HTTP mix: benchmarks/http_mix.py --url (session list, send message, flashcard review,
  document list, login) at each --http-levels level for --http-seconds: requests/s, p50/p95.

Everything runs on 127.0.0.1 and every run is bounded; the cluster is stopped after each count.
The machine's load average is printed with each figure: on a shared machine it moves them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chat_stream import (  # noqa: E402
    added_latencies,
    conversation,
    free_port,
    loop_lag,
    percentile,
    run_upstream,
    wait_for_port,
)

CLUSTER = ROOT / "deploy" / "local-cluster"
TOKENS, INTERVAL, FIRST_DELAY = 100, 0.05, 0.3


class _NoProgress:
    def update(self, n: int) -> None:
        pass


def start_cluster(servers: int, upstream_port: int | None) -> tuple[Path, dict]:
    """The topology with N servers; its LLM is the fake streaming upstream, or (None) the
    offline tutor, which is what http_mix.py measures its send-message requests against."""
    state = Path(tempfile.mkdtemp(prefix=f"tutorhub-capacity-{servers}-"))
    env = {"AI_MAX_RETRIES": "0", "THROTTLING_ENABLED": "0", "LOG_LEVEL": "WARNING"}
    if upstream_port:
        env |= {"LLM_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1", "LLM_API_KEY": "bench", "LLM_MODEL": "bench"}
    argv = [sys.executable, str(CLUSTER), "start", "--state", str(state), "--servers", str(servers),
            "--workers", "1", "--schedulers", "1"]
    for key, value in env.items():
        argv += ["--env", f"{key}={value}"]
    subprocess.run(argv, check=True, timeout=600, stdout=subprocess.DEVNULL)
    return state, json.loads((state / "cluster.json").read_text())


def stop_cluster(state: Path) -> None:
    done = subprocess.run([sys.executable, str(CLUSTER), "stop", "--state", str(state)], timeout=300, check=False)
    if done.returncode == 0:  # nothing of it runs any more: its data can go (kept for a look otherwise)
        shutil.rmtree(state, ignore_errors=True)


def tokens_for(info: dict, count: int) -> list[str]:
    script = (
        "import json; from tutorhub.accounts.models import User;"
        "from rest_framework_simplejwt.tokens import RefreshToken;"
        f"users=[User.objects.get_or_create(username=f'stream{{i}}', defaults={{'email': f'stream{{i}}@example.com'}})[0] for i in range({count})];"
        "print(json.dumps([str(RefreshToken.for_user(u).access_token) for u in users]))"
    )
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env={**os.environ, **info["env"]},
                         check=True, capture_output=True, text=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def streams(info: dict, tokens: list[str], count: int, turns: int, upstream_port: int, ramp: float) -> dict:
    ws = info["ws_url"]
    timings_before = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{upstream_port}/timings").read())
    results: list = []
    errors: list = []
    lags: list = []
    run = f"r{random.randrange(10**6)}"

    async def one(i: int):
        # chat_stream's conversation keys its turns c<i>t<turn>; a per-run offset keeps the
        # upstream's timings of earlier levels apart.
        await conversation(i + int(run[1:]) * 1000, f"{ws}/ws/chat/?token={tokens[i]}", turns,
                           random.uniform(0, ramp), results, errors, _NoProgress())

    async def run_all():
        monitor = asyncio.create_task(loop_lag(lags))
        await asyncio.gather(*(one(i) for i in range(count)))
        monitor.cancel()

    started = time.monotonic()
    asyncio.run(run_all())
    elapsed = time.monotonic() - started
    timings = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{upstream_port}/timings").read())
    timings = {k: v for k, v in timings.items() if k not in timings_before}
    first, last, _final = added_latencies(results, timings, errors)
    return {
        "streams": count, "turns": count * turns, "seconds": round(elapsed, 1), "errors": len(errors),
        "error_samples": errors[:3],
        "ttft_added_p50_ms": round(percentile(first, 50) * 1000, 1),
        "ttft_added_p95_ms": round(percentile(first, 95) * 1000, 1),
        "last_added_p95_ms": round(percentile(last, 95) * 1000, 1),
        "client_loop_lag_p95_ms": round(percentile(lags, 95) * 1000, 1),
        "load_average": round(os.getloadavg()[0], 1),
    }


def http_mix(info: dict, levels: str, seconds: float) -> list[dict]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "http_mix.py"), "--url", info["url"],
             "--database-url", info["env"]["DATABASE_URL"], "--levels", levels, "--seconds", str(seconds),
             "--json", out.name, "--env", f"SECRET_KEY={info['env']['SECRET_KEY']}"],  # its users' JWTs must verify on the cluster
            cwd=ROOT, check=True, timeout=60 + 4 * seconds * len(levels.split(",")) + 300,
        )
        summaries = json.loads(Path(out.name).read_text())
    for summary in summaries:
        summary["load_average"] = round(os.getloadavg()[0], 1)
    return summaries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="1,2", help="server counts to measure")
    parser.add_argument("--streams", default="100,200", help="concurrent chat conversations per level ('' to skip)")
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--ramp", type=float, default=5.0, help="conversations start spread over this many seconds")
    parser.add_argument("--http-levels", default="50,100", help="concurrent HTTP users per level ('' to skip)")
    parser.add_argument("--http-seconds", type=float, default=15.0)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    counts = [int(n) for n in args.servers.split(",")]
    levels = [int(n) for n in args.streams.split(",") if n]
    if not all(1 <= n <= 4 for n in counts) or not all(1 <= n <= 1000 for n in levels) or not 1 <= args.turns <= 10:
        parser.error("--servers 1-4 each, --streams 1-1000 each, --turns 1-10")

    upstream_port = free_port()
    upstream = multiprocessing.Process(target=run_upstream, args=(upstream_port, TOKENS, INTERVAL, FIRST_DELAY), daemon=True)
    upstream.start()
    figures: dict = {}
    try:
        wait_for_port(upstream_port)
        for servers in counts:
            figures[servers] = {"streams": [], "http": []}
            if levels:
                print(f"== {servers} server(s) behind nginx, streaming upstream: starting the cluster", flush=True)
                state, info = start_cluster(servers, upstream_port)
                try:
                    tokens = tokens_for(info, max(levels))
                    # One unmeasured turn: each server's first request pays for imports and clients.
                    streams(info, tokens, min(len(tokens), 2 * servers), 1, upstream_port, 0)
                    for level in levels:
                        row = streams(info, tokens, level, args.turns, upstream_port, args.ramp)
                        figures[servers]["streams"].append(row)
                        print(f"   {level} streams x {args.turns} turns: added TTFT p50 {row['ttft_added_p50_ms']} ms, "
                              f"p95 {row['ttft_added_p95_ms']} ms; errors {row['errors']}; load {row['load_average']}",
                              flush=True)
                finally:
                    stop_cluster(state)
            if args.http_levels:
                print(f"== {servers} server(s) behind nginx, offline tutor: starting the cluster", flush=True)
                state, info = start_cluster(servers, None)
                try:
                    figures[servers]["http"] = http_mix(info, args.http_levels, args.http_seconds)
                finally:
                    stop_cluster(state)
    finally:
        upstream.terminate()
        upstream.join(10)

    print("\nservers | chat streams | added TTFT p50 / p95 | errors | load avg")
    for servers, data in figures.items():
        for row in data["streams"]:
            print(f"{servers:7} | {row['streams']:12} | {row['ttft_added_p50_ms']:7.1f} / {row['ttft_added_p95_ms']:7.1f} ms"
                  f" | {row['errors']:6} | {row['load_average']}")
    print("\nservers | HTTP users | requests/s | p50 / p95 | errors | load avg")
    for servers, data in figures.items():
        for row in data["http"]:
            print(f"{servers:7} | {row['users']:10} | {row['req_per_s']:>10} | "
                  f"{row['p50_ms']} / {row['p95_ms']} ms | {row['errors']} | {row['load_average']}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
