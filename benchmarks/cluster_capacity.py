"""Capacity of 1 and 2 TutorHub servers behind nginx (issue 15): chat streams and the HTTP mix.

    .venv/bin/python benchmarks/cluster_capacity.py [--servers 1,2] [--target-ms 25]
        [--start 10] [--max-streams 400] [--resolution 5] [--search-minutes 12]
        [--streams 100,200] [--turns 3] [--http-levels 50] [--http-seconds 15] [--json FILE]

For each server count, deploy/local-cluster starts the production topology (PostgreSQL, Redis,
a Chroma server, N `runall --server-only` processes, one worker, one scheduler, nginx in front)
with its LLM pointed at chat_stream.py's fake OpenAI-compatible upstream (first token after
0.3 s, then 20 tokens/s), so the real openai-SDK client streams. Then, through nginx:

* chat streams: chat_stream.py's conversations (one user and socket each, --turns messages one
  after another); added latency to the first token = what the client saw minus what the
  upstream took (chat_stream.added_latencies), p50/p95. By default the capacity is searched:
  the largest number of concurrent conversations whose p95 added time to first token stays
  under --target-ms with no error, found by doubling from --start until a level fails, then
  bisecting between the last level held and the first one failed until they are --resolution
  apart (or --search-minutes is spent; the bracket found so far is reported). --streams
  measures fixed levels instead. Each level also reports the servers' CPU per stream (all
  server processes' user+system time over the level, divided by the turns it completed);
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
    cpu_seconds,
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

    servers = [p["pid"] for p in info["processes"] if p["kind"] == "web"]
    cpu_before = sum(cpu_seconds(pid) for pid in servers)
    started = time.monotonic()
    asyncio.run(run_all())
    elapsed = time.monotonic() - started
    server_cpu = sum(cpu_seconds(pid) for pid in servers) - cpu_before
    timings = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{upstream_port}/timings").read())
    timings = {k: v for k, v in timings.items() if k not in timings_before}
    first, last, _final = added_latencies(results, timings, errors)
    # The added time split in two: sent -> the upstream has the request (handshake already done:
    # frame through nginx, turn preparation, the request to the model), and the upstream's first
    # token -> the client has it (relay). Same machine, same monotonic clock.
    asked = [timings[m][0] - sent for m, sent, f, _, _ in results if m in timings and f is not None]
    relayed = [f - timings[m][1] for m, _, f, _, _ in results if m in timings and f is not None]
    return {
        "streams": count, "turns": count * turns, "seconds": round(elapsed, 1), "errors": len(errors),
        "error_samples": errors[:3],
        "ttft_added_p50_ms": round(percentile(first, 50) * 1000, 1),
        "ttft_added_p95_ms": round(percentile(first, 95) * 1000, 1),
        "last_added_p95_ms": round(percentile(last, 95) * 1000, 1),
        "until_model_asked_p50_p95_ms": [round(percentile(asked, 50) * 1000, 1), round(percentile(asked, 95) * 1000, 1)],
        "first_token_relay_p50_p95_ms": [round(percentile(relayed, 50) * 1000, 1), round(percentile(relayed, 95) * 1000, 1)],
        "client_loop_lag_p95_ms": round(percentile(lags, 95) * 1000, 1),
        # Over every server process; a turn is one streamed answer of TOKENS tokens.
        "server_cpu_ms_per_stream": round(server_cpu / max(1, len(results)) * 1000, 1),
        "server_cpu_cores": round(server_cpu / elapsed, 2),
        "load_average": round(os.getloadavg()[0], 1),
    }


def held(row: dict, target_ms: float) -> bool:
    return row["errors"] == 0 and row["ttft_added_p95_ms"] < target_ms


def capacity_search(measure, *, start: int, limit: int, target_ms: float, resolution: int, budget_s: float) -> dict:
    """The largest level `measure(level)` holds (p95 added TTFT < target_ms, no error): double
    from `start` until a level fails (or `limit` holds), then bisect the bracket down to
    `resolution` streams. Stops early when `budget_s` is spent; the bracket is then wider
    than asked, and says so (`resolved` false)."""
    deadline = time.monotonic() + budget_s
    rows: list[dict] = []
    good: dict | None = None  # the largest level held so far
    bad: dict | None = None  # the smallest level failed so far

    def run(level: int) -> dict:
        row = measure(level)
        rows.append(row)
        return row

    level = start
    while time.monotonic() < deadline:
        row = run(level)
        if not held(row, target_ms):
            bad = row
            break
        good = row
        if level >= limit:
            break
        level = min(limit, level * 2)
    while bad is not None and time.monotonic() < deadline:
        low = good["streams"] if good else 0
        if bad["streams"] - low <= resolution:
            break
        row = run((low + bad["streams"]) // 2)
        if held(row, target_ms):
            good = row
        else:
            bad = row
    low = good["streams"] if good else 0
    resolved = (bad is None and low >= limit) or (bad is not None and bad["streams"] - low <= resolution)
    return {"held": good, "failed": bad, "resolved": resolved, "target_ms": target_ms, "levels": rows}


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
    parser.add_argument("--streams", default="",
                        help="fixed concurrent-conversation levels, e.g. 50,100 (default: search the capacity; 'none' skips streams)")
    parser.add_argument("--target-ms", type=float, default=25.0, help="the p95 added time to first token a level must stay under")
    parser.add_argument("--start", type=int, default=10, help="search: the first level tried")
    parser.add_argument("--max-streams", type=int, default=400, help="search: the highest level tried")
    parser.add_argument("--resolution", type=int, default=5, help="search: stop bisecting when held and failed are this close")
    parser.add_argument("--search-minutes", type=float, default=12.0, help="search: time allowed per server count")
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--ramp", type=float, default=5.0, help="conversations start spread over this many seconds")
    parser.add_argument("--http-levels", default="50", help="concurrent HTTP users per level ('' to skip)")
    parser.add_argument("--http-seconds", type=float, default=15.0)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    counts = [int(n) for n in args.servers.split(",")]
    search = not args.streams
    levels = [] if search or args.streams == "none" else [int(n) for n in args.streams.split(",") if n]
    if not all(1 <= n <= 4 for n in counts) or not all(1 <= n <= 1000 for n in levels) or not 1 <= args.turns <= 10:
        parser.error("--servers 1-4 each, --streams 1-1000 each, --turns 1-10")
    if search and not (1 <= args.start <= args.max_streams <= 1000 and args.resolution >= 1 and args.search_minutes > 0):
        parser.error("search: 1 <= --start <= --max-streams <= 1000, --resolution >= 1, --search-minutes > 0")

    upstream_port = free_port()
    upstream = multiprocessing.Process(target=run_upstream, args=(upstream_port, TOKENS, INTERVAL, FIRST_DELAY), daemon=True)
    upstream.start()
    figures: dict = {}
    try:
        wait_for_port(upstream_port)
        for servers in counts:
            figures[servers] = {"streams": [], "http": []}
            if search or levels:
                print(f"== {servers} server(s) behind nginx, streaming upstream: starting the cluster", flush=True)
                state, info = start_cluster(servers, upstream_port)
                try:
                    tokens = tokens_for(info, args.max_streams if search else max(levels))
                    # One unmeasured turn: each server's first request pays for imports and clients.
                    streams(info, tokens, min(len(tokens), 2 * servers), 1, upstream_port, 0)

                    def measure(level: int, servers=servers, info=info, tokens=tokens) -> dict:
                        row = streams(info, tokens, level, args.turns, upstream_port, args.ramp)
                        figures[servers]["streams"].append(row)
                        print(f"   {level} streams x {args.turns} turns: added TTFT p50 {row['ttft_added_p50_ms']} ms, "
                              f"p95 {row['ttft_added_p95_ms']} ms (until the model is asked p50/p95 "
                              f"{row['until_model_asked_p50_p95_ms']}, first-token relay {row['first_token_relay_p50_p95_ms']}); "
                              f"errors {row['errors']}; "
                              f"server CPU {row['server_cpu_ms_per_stream']} ms/stream; load {row['load_average']}",
                              flush=True)
                        return row

                    if search:
                        result = capacity_search(measure, start=args.start, limit=args.max_streams,
                                                 target_ms=args.target_ms, resolution=args.resolution,
                                                 budget_s=args.search_minutes * 60)
                        figures[servers]["capacity"] = {k: v for k, v in result.items() if k != "levels"}
                    else:
                        for level in levels:
                            measure(level)
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

    print("\nservers | chat streams | added TTFT p50 / p95 | errors | server CPU per stream | load avg")
    for servers, data in figures.items():
        for row in data["streams"]:
            print(f"{servers:7} | {row['streams']:12} | {row['ttft_added_p50_ms']:7.1f} / {row['ttft_added_p95_ms']:7.1f} ms"
                  f" | {row['errors']:6} | {row['server_cpu_ms_per_stream']:8.1f} ms | {row['load_average']}")
    if search:
        print(f"\nCAPACITY: concurrent chat streams held at p95 added time to first token < {args.target_ms:g} ms, 0 errors"
              f" ({args.turns} turns of {TOKENS} tokens each)")
        print("servers | streams held | p50 / p95 there | server CPU per stream | first level over | its p95 | load avg")
        for servers, data in figures.items():
            cap = data.get("capacity")
            if cap is None:
                continue
            good, bad = cap["held"], cap["failed"]
            held_text = f"{good['streams']:12}" if good else f"{'< ' + str(bad['streams'] if bad else args.start):>12}"
            if not cap["resolved"]:
                held_text += " (search time spent: unresolved)"
            there = f"{good['ttft_added_p50_ms']} / {good['ttft_added_p95_ms']} ms" if good else "-"
            cpu = f"{good['server_cpu_ms_per_stream']} ms" if good else (f"{bad['server_cpu_ms_per_stream']} ms" if bad else "-")
            over = f"{bad['streams']}" if bad else f"none up to {args.max_streams}"
            over_p95 = f"{bad['ttft_added_p95_ms']} ms, {bad['errors']} errors" if bad else "-"
            load = (good or bad or {}).get("load_average", "-")
            print(f"{servers:7} | {held_text} | {there} | {cpu} | {over} | {over_p95} | {load}")
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
