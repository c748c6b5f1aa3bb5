"""Chat streaming benchmark: N concurrent WebSocket conversations through a real uvicorn server.

    .venv/bin/python benchmarks/chat_stream.py [--conversations 100] [--turns 3] [--tokens 30]
        [--interval 0.03] [--first-delay 0.2] [--ramp 2.0] [--database-url postgres://...] [--dump FILE]

Three processes: a fake OpenAI-compatible upstream (uvicorn, SSE streaming: the first token
after --first-delay, then one every --interval seconds), TutorHub itself (`manage.py runall
--server-only`, as `make run` serves it, with LLM_BASE_URL pointing at the upstream, so the real
openai-SDK client runs),
and this client process with one `websockets` connection per conversation (each its own user
and JWT). Conversations start spread over --ramp seconds, then each sends --turns messages one
after another, so about N streams are in flight at once.

For every turn the upstream records (with the machine-wide monotonic clock) when the request
arrived and when it sent its first and last token; the client records when it sent the message
and received the first and last `partial`. Added latency = what the client saw minus what the
upstream took, i.e. the time TutorHub itself adds (auth'd session lookup, quota, storing the
question, retrieval, prompt building, relaying each token, storing the answer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMINGS: dict[str, list[float]] = {}


# --- fake upstream (an ASGI app: OpenAI-compatible /v1/chat/completions with SSE) ---------------
def upstream_app_factory(tokens: int, interval: float, first_delay: float):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/timings":
            body = json.dumps(TIMINGS).encode()
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        received = time.monotonic()
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        data = json.loads(raw or b"{}")
        question = next((m["content"] for m in reversed(data.get("messages", [])) if m["role"] == "user"), "")
        marker = question.split("]")[0].lstrip("[") if question.startswith("[") else ""
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": int(time.time()), "model": "bench"}

        async def event(payload):
            await send({"type": "http.response.body", "body": f"data: {json.dumps(payload)}\n\n".encode(), "more_body": True})

        await asyncio.sleep(first_delay)
        first = last = 0.0
        for i in range(tokens):
            if i:
                await asyncio.sleep(interval)
            await event({**base, "choices": [{"index": 0, "delta": {"content": f"tok{i} "}, "finish_reason": None}]})
            last = time.monotonic()
            first = first or last
        await event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        await event({**base, "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": tokens, "total_tokens": 50 + tokens}})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        if marker:
            TIMINGS[marker] = [received, first, last]

    return app


def run_upstream(port: int, tokens: int, interval: float, first_delay: float) -> None:
    import uvicorn

    uvicorn.run(upstream_app_factory(tokens, interval, first_delay), host="127.0.0.1", port=port, log_level="warning",
                loop="uvloop", http="httptools", lifespan="off")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` (the server's own shutdown
    takes a few seconds; a benchmark must never leave it running)."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- client ----------------------------------------------------------------------------------------
async def conversation(index: int, url: str, turns: int, delay: float, results: list, errors: list, progress) -> None:
    from websockets.asyncio.client import connect

    await asyncio.sleep(delay)
    try:
        async with connect(url, max_queue=None) as ws:
            session_id = None
            for turn in range(turns):
                marker = f"c{index}t{turn}"
                sent = time.monotonic()
                await ws.send(json.dumps({"message": f"[{marker}] Explain the chain rule, part {turn}.", "session_id": session_id}))
                first = last = None
                while True:
                    event = json.loads(await ws.recv())
                    if event.get("type") == "partial":
                        last = time.monotonic()
                        first = first or last
                    elif event.get("type") == "final":
                        session_id = event["session_id"]
                        results.append((marker, sent, first, last, time.monotonic()))
                        break
                    elif "error" in event:
                        errors.append(f"{marker}: {event['error']}")
                        break
                progress.update(1)
    except Exception as exc:  # a benchmark reports failures instead of stopping
        errors.append(f"c{index}: {type(exc).__name__}: {exc}")


async def loop_lag(lags: list) -> None:
    """How late this client's event loop wakes up: if it is starved, its timings are too."""
    while True:
        before = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append(time.monotonic() - before - 0.01)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def added_latencies(results: list, timings: dict, errors: list) -> tuple[list[float], list[float], list[float]]:
    """What TutorHub added to each turn (the client's times minus the upstream's): to the first
    token, to the last token and to the final event. A turn without upstream timings or tokens
    is appended to `errors`. (benchmarks/cluster_capacity.py reads its runs through nginx with this.)"""
    added_first, added_last, added_final = [], [], []
    for marker, sent, first, last, final in results:
        up = timings.get(marker)
        if not up or first is None:
            errors.append(f"{marker}: no upstream timing / no tokens")
            continue
        received, up_first, up_last = up
        added_first.append((first - sent) - (up_first - received))
        added_last.append((last - sent) - (up_last - received))
        added_final.append((final - sent) - (up_last - received))
    return added_first, added_last, added_final


def python_build() -> str:
    """The interpreter's build, since figures depend on it: a CPython configured without
    --enable-optimizations (PGO) and --with-lto runs pure-Python loops 1.2-1.7x slower."""
    args = sysconfig.get_config_var("CONFIG_ARGS") or ""
    flags = [f for f in ("--enable-optimizations", "--with-lto") if f in args]
    opt = " ".join(f for f in (sysconfig.get_config_var("PY_CFLAGS") or "").split() if f.startswith("-O"))
    return (f"Python {sys.version.split()[0]} ({sys.implementation.name}, {sys.executable}); "
            f"optimisations: {' '.join(flags) or 'no PGO, no LTO'}, C {opt or 'no -O'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", "-n", type=int, default=100)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=100, help="tokens per answer")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between upstream tokens (20/s)")
    parser.add_argument("--first-delay", type=float, default=0.3, help="upstream time to first token")
    parser.add_argument("--ramp", type=float, default=5.0, help="conversations start spread over this many seconds")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: a fresh SQLite file)")
    parser.add_argument("--dump", default="", help="write every turn's raw timings to this JSON file")
    args = parser.parse_args()

    from tqdm import tqdm

    workdir = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    upstream_port, server_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(workdir),
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LLM_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "LLM_API_KEY": "bench",
        "LLM_MODEL": "bench",
        "AI_MAX_RETRIES": "0",
        "THROTTLING_ENABLED": "0",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
    }
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    python = sys.executable
    print(python_build())
    print(f"workdir {workdir}; load average at start {os.getloadavg()[0]:.1f}; preparing database ...", flush=True)
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    script = (
        "import json; from tutorhub.accounts.models import User;"
        "from rest_framework_simplejwt.tokens import RefreshToken;"
        f"users=[User.objects.get_or_create(username=f'bench{{i}}', defaults={{'email': f'bench{{i}}@example.com'}})[0] for i in range({args.conversations})];"
        "print(json.dumps([str(RefreshToken.for_user(u).access_token) for u in users]))"
    )
    out = subprocess.run([python, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    tokens = json.loads(out.stdout.strip().splitlines()[-1])

    upstream = multiprocessing.Process(target=run_upstream, args=(upstream_port, args.tokens, args.interval, args.first_delay), daemon=True)
    upstream.start()
    # The server exactly as `make run` starts it, less the task worker and scheduler.
    server = subprocess.Popen(
        [python, "manage.py", "runall", "--server-only", "--host", "127.0.0.1", "--port", str(server_port),
         "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(upstream_port)
        wait_for_port(server_port)
        server_cpu_before = 0.0
        # One unmeasured turn first: the server's first request pays for imports and client setup.
        warm = []
        asyncio.run(conversation(-1, f"ws://127.0.0.1:{server_port}/ws/chat/?token={tokens[0]}", 1, 0, warm, warm,
                                 tqdm(disable=True)))
        server_cpu_before = cpu_seconds(server.pid)
        results: list = []
        errors: list = []
        lags: list = []
        total = args.conversations * args.turns
        with tqdm(total=total, desc="turns", unit="turn") as progress:

            async def run_all():
                monitor = asyncio.create_task(loop_lag(lags))
                await asyncio.gather(*(
                    conversation(i, f"ws://127.0.0.1:{server_port}/ws/chat/?token={tokens[i]}", args.turns,
                                 random.uniform(0, args.ramp), results, errors, progress)
                    for i in range(args.conversations)
                ))
                monitor.cancel()

            started, client_cpu = time.monotonic(), time.process_time()
            upstream_cpu = cpu_seconds(upstream.pid)
            asyncio.run(run_all())
            elapsed = time.monotonic() - started
            client_cpu = time.process_time() - client_cpu
            upstream_cpu = cpu_seconds(upstream.pid) - upstream_cpu
        import urllib.request

        timings = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{upstream_port}/timings").read())
        server_cpu = cpu_seconds(server.pid) - server_cpu_before
    finally:
        server.terminate()
        server.wait(timeout=10)
        upstream.terminate()
        shutil.rmtree(workdir, ignore_errors=True)  # the run's SQLite database, media and Chroma store

    if args.dump:
        Path(args.dump).write_text(json.dumps({"client": results, "upstream": timings}))
    added_first, added_last, added_final = added_latencies(results, timings, errors)

    def ms(values, p):
        return f"{percentile(values, p) * 1000:7.1f} ms"

    upstream_ttft = args.first_delay * 1000
    upstream_total = (args.first_delay + (args.tokens - 1) * args.interval) * 1000
    print()
    print(f"conversations {args.conversations} x {args.turns} turns = {total} streams in {elapsed:.1f} s; "
          f"{args.tokens} tokens each, upstream first token {upstream_ttft:.0f} ms, last {upstream_total:.0f} ms; "
          f"database {'PostgreSQL' if args.database_url else 'SQLite'}")
    print(f"added latency to first token: p50 {ms(added_first, 50)}   p95 {ms(added_first, 95)}   max {ms(added_first, 100)}")
    print(f"added latency to last token:  p50 {ms(added_last, 50)}   p95 {ms(added_last, 95)}   max {ms(added_last, 100)}")
    print(f"added latency to final event: p50 {ms(added_final, 50)}   p95 {ms(added_final, 95)}   (answer stored)")
    print(f"server CPU: {server_cpu:.1f} s for {len(results)} streams = {server_cpu / max(1, len(results)) * 1000:.1f} ms "
          f"per stream ({server_cpu / elapsed * 100:.0f}% of one core); load average {os.getloadavg()[0]:.1f}")
    print(f"client CPU {client_cpu / elapsed * 100:.0f}% of a core, its loop lag p95 {ms(lags, 95)}; "
          f"upstream CPU {upstream_cpu / elapsed * 100:.0f}% of a core")
    print(f"completed {len(added_first)} / {total}; errors {len(errors)}")
    for line in errors[:10]:
        print("  ", line)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
