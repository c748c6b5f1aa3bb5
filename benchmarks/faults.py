"""Model faults against the real server: how soon the user gets a clear error, what is stored,
and whether the next message works.

    .venv/bin/python benchmarks/faults.py [--cap 200] [--root PATH] [--only hang,429,...]

Processes: a fake OpenAI-compatible model (tests/fakes/openai_server.py, in this process, so
each fault is scripted per request) and TutorHub (`manage.py runall --server-only` on a free
loopback port, SQLite in a fresh DATA_DIR, LLM_BASE_URL pointing at the fake, the shipped
AI_TIMEOUT_SECONDS / AI_MAX_RETRIES defaults). For every fault and transport (ws/chat/ and
REST send_message) it sends one question and prints:

    fault | via | time to a clear error | what the client got | question stored? |
    answer stored (incomplete?) | quota reservations left | next message OK (its time)

`--cap` bounds how long the client waits for an answer (the code before the deadlines kept it
181 s on a hung model); `--root` serves another checkout (e.g. `git archive <commit>`) with
the same virtualenv, for before/after figures. Rows from benchmarks/faults_process.py
(killed worker, stopped database) follow when that module is present.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chat_stream import free_port, stop_process, wait_for_port  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402

HANG = 3600.0  # a model that never answers (within any cap)


@dataclass
class Fault:
    key: str
    label: str
    ws_script: list[dict]  # pushed before the WS question (one per attempt the server may make)
    rest_script: list[dict] | None  # None: not meaningful over REST (non-streamed)
    refuse: bool = False  # stop the fake model: connections are refused


FAULTS = [
    Fault("hang", "model never answers", [{"delay": HANG}] * 3, [{"delay": HANG}] * 3),
    Fault("slow-first", "first token after 200 s (headers at once)", [{"first_token_delay": 200}] * 3, None),
    Fault("429", "429 with Retry-After: 120", [{"status": 429, "retry_after": 120}] * 3,
          [{"status": 429, "retry_after": 120}] * 3),
    Fault("refused", "connection refused (model down)", [], [], refuse=True),
    Fault("drop", "stream dropped after 3 pieces", [{"text": "one two three four five six", "drop_after": 3}], None),
    Fault("500", "HTTP 500 on every attempt", [{"status": 500}] * 3, [{"status": 500}] * 3),
    # kill -9 of the server while it streams (3 pieces sent, the rest 1 s apart), then a restart
    # and the periodic job that marks answers lost to a crash (run at once here).
    Fault("crash", "server killed mid-stream, restarted", [{"text": "one two three four five six seven eight"}], None),
]


class Model:
    """The fake model on a fixed port, stoppable (refused connections) and restartable."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: FakeOpenAIServer | None = None
        self.start()

    def start(self) -> None:
        self.server = FakeOpenAIServer(port=self.port).start()
        self.server.default_reply = "A fine answer."

    def stop(self) -> None:
        if self.server:
            self.server.stop()
            self.server = None

    def script(self, steps: list[dict]) -> None:
        self.server.script.clear()
        for step in steps:
            self.server.push(**step)


class Server:
    def __init__(self, root: Path, model: Model) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="faults-"))
        self.port = free_port()
        self.env = {
            **os.environ,
            "DATA_DIR": str(self.workdir),
            "DEBUG": "0",
            "SECRET_KEY": "faults-" + "k" * 50,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LLM_BASE_URL": f"http://127.0.0.1:{model.port}/v1",
            "LLM_API_KEY": "faults",
            "LLM_MODEL": "fake-gpt",
            "THROTTLING_ENABLED": "0",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "ERROR",
        }
        for name in ("DATABASE_URL", "REDIS_URL", "AI_TIMEOUT_SECONDS", "AI_MAX_RETRIES"):
            self.env.pop(name, None)  # SQLite, in-memory layers, the shipped AI defaults
        self.root = root
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=root, env=self.env, check=True)
        script = (
            "from tutorhub.accounts.models import User; from rest_framework_simplejwt.tokens import RefreshToken;"
            "u=User.objects.get_or_create(username='faults', defaults={'email': 'faults@example.com'})[0];"
            "print(RefreshToken.for_user(u).access_token)"
        )
        out = subprocess.run([python, "manage.py", "shell", "-c", script], cwd=root, env=self.env, check=True,
                             capture_output=True, text=True)
        self.token = out.stdout.strip().splitlines()[-1]
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runall", "--server-only", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "warning"],
            cwd=self.root, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so a crash can kill server and children
        )
        wait_for_port(self.port)

    def crash(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the port is free again
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.1)

    def mark_unanswered(self) -> str:
        """What the periodic job chat.tasks.chat_unanswered_mark does, without waiting for its
        age threshold."""
        script = ("from datetime import timedelta; from tutorhub.chat.durability import chat_unanswered_mark as m;"
                  "print(m(older_than=timedelta(0)))")
        out = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=self.root, env=self.env,
                             capture_output=True, text=True)
        return out.stdout.strip().splitlines()[-1] if out.returncode == 0 else "no such job"

    def stop(self) -> None:
        stop_process(self.process)

    def db(self, sql: str, params=()) -> list:
        with sqlite3.connect(f"file:{self.workdir / 'db.sqlite3'}?mode=ro", uri=True, timeout=10) as conn:
            return conn.execute(sql, params).fetchall()


def stored_state(server: Server, session_id: str, question: str) -> tuple[str, str, int]:
    rows = server.db("SELECT id FROM chat_message WHERE session_id = ? AND role = 'user' AND content = ?",
                     (session_id.replace("-", ""), question))
    if not rows:
        return "NO", "-", _reservations(server)
    answers = server.db("SELECT is_complete, length(content) FROM chat_message WHERE reply_to_id = ?", (rows[0][0],))
    if not answers:
        return "yes", "NONE", _reservations(server)
    complete, length = answers[0]
    return "yes", ("complete" if complete else f"incomplete ({length} chars)"), _reservations(server)


def _reservations(server: Server) -> int:
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    return server.db("SELECT COUNT(*) FROM billing_quotareservation WHERE expires_at > ?", (now,))[0][0]


async def ws_crash_turn(url: str, payload: dict, server: Server) -> tuple[float, str]:
    """Send a message, kill the server after the third piece; returns (seconds, what the client saw)."""
    from websockets.asyncio.client import connect

    started = time.monotonic()
    pieces = 0
    async with connect(url, max_queue=None) as ws:
        await ws.send(json.dumps(payload))
        try:
            while True:
                frame = json.loads(await ws.recv())
                pieces += frame.get("type") == "partial"
                if pieces == 3:
                    await asyncio.to_thread(server.crash)
        except Exception as exc:  # the connection dies with the server
            return time.monotonic() - started, f"{pieces} pieces, then {type(exc).__name__}"


async def ws_turn(url: str, payload: dict, cap: float) -> tuple[float, dict | None, list[dict]]:
    """Send one message; returns (seconds to the final/error frame, that frame, the frames before)."""
    from websockets.asyncio.client import connect

    frames: list[dict] = []
    started = time.monotonic()
    async with connect(url, max_queue=None) as ws:
        await ws.send(json.dumps(payload))
        try:
            async with asyncio.timeout(cap):
                while True:
                    frame = json.loads(await ws.recv())
                    if frame.get("type") in ("final", "error"):
                        return time.monotonic() - started, frame, frames
                    frames.append(frame)
        except TimeoutError:
            return time.monotonic() - started, None, frames


def rest_turn(base: str, token: str, session_id: str, content: str, cap: float):
    import httpx

    started = time.monotonic()
    try:
        response = httpx.post(f"{base}/api/v1/chat/chats/{session_id}/send_message/", json={"content": content},
                              headers={"Authorization": f"Bearer {token}"}, timeout=cap)
    except httpx.TimeoutException:
        return time.monotonic() - started, None
    return time.monotonic() - started, response


def new_session(base: str, token: str) -> str:
    import httpx

    response = httpx.post(f"{base}/api/v1/chat/chats/", json={"title": "faults"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)
    response.raise_for_status()
    return response.json()["id"]


def run_fault(fault: Fault, via: str, server: Server, model: Model, cap: float) -> list[str]:
    base = f"http://127.0.0.1:{server.port}"
    session_id = new_session(base, server.token)
    question = f"[{fault.key}/{via}] What is a derivative?"
    if fault.refuse:
        model.stop()
    else:
        model.script(fault.ws_script if via == "ws" else fault.rest_script)
    if fault.key == "crash":
        model.server.token_delay = 1.0
        url = f"ws://127.0.0.1:{server.port}/ws/chat/?token={server.token}"
        seconds, got = asyncio.run(ws_crash_turn(url, {"message": question, "session_id": session_id}, server))
        model.server.token_delay = 0.0
        server.start()
        got += f"; restarted, job marked {server.mark_unanswered()}"
    elif via == "ws":
        url = f"ws://127.0.0.1:{server.port}/ws/chat/?token={server.token}"
        seconds, frame, before = asyncio.run(ws_turn(url, {"message": question, "session_id": session_id}, cap))
        waiting = sum(1 for f in before if f.get("value") == "waiting")
        if frame is None:
            got = f"nothing within {cap:.0f} s (only {'typing' if before else 'silence'})"
        elif frame["type"] == "error":
            got = frame.get("error_code", "?") + (f", retry_after={frame['retry_after']}" if "retry_after" in frame else "")
        else:
            got = "final answer"
        got += f"; {waiting} waiting frames" if waiting else ""
    else:
        seconds, response = rest_turn(base, server.token, session_id, question, cap)
        if response is None:
            got = f"nothing within {cap:.0f} s"
        else:
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            got = f"{response.status_code} {body.get('error_code', '')}".strip()
            if response.headers.get("retry-after"):
                got += f", Retry-After: {response.headers['retry-after']}"
    if fault.refuse:
        model.start()
    time.sleep(0.2)  # the server stores the partial answer after the client's error frame
    asked, answer, reservations = stored_state(server, session_id, question)
    # The next message, with the model healthy again.
    model.script([{"text": "Healthy again."}])
    if via == "ws":
        url = f"ws://127.0.0.1:{server.port}/ws/chat/?token={server.token}"
        next_seconds, frame, _ = asyncio.run(ws_turn(url, {"message": "And now?", "session_id": session_id}, 60))
        ok = frame is not None and frame["type"] == "final"
    else:
        next_seconds, response = rest_turn(base, server.token, session_id, "And now?", 60)
        ok = response is not None and response.status_code == 201
    next_ok = f"{'OK' if ok else 'FAILED'} ({next_seconds:.2f} s)"
    return [fault.label, via, f"{seconds:7.2f} s", got, asked, answer, str(reservations), next_ok]


def print_table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def process_rows() -> None:
    """Rows for process faults (killed worker, stopped database), from H6's module."""
    try:
        from benchmarks import faults_process
    except ImportError:
        print("\n(benchmarks/faults_process.py not present: no process-fault rows - killed worker, stopped database)")
        return
    print("\nprocess faults (benchmarks/faults_process.py):")
    rows = list(faults_process.scenarios())
    if rows and isinstance(rows[0], dict):
        header = list(rows[0])
        print_table([[str(r.get(k, "")) for k in header] for r in rows], header)
    else:
        for row in rows:
            print(" | ".join(str(c) for c in row) if isinstance(row, (list, tuple)) else row)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cap", type=float, default=200.0, help="longest the client waits for an answer (s)")
    parser.add_argument("--root", default=str(ROOT), help="the checkout to serve (default: this one)")
    parser.add_argument("--only", default="", help="comma-separated fault keys: " + ",".join(f.key for f in FAULTS))
    parser.add_argument("--no-process-faults", action="store_true", help="skip benchmarks/faults_process.py")
    args = parser.parse_args()
    wanted = set(filter(None, args.only.split(",")))
    model = Model()
    print(f"starting TutorHub from {args.root} (SQLite, fake model on port {model.port}) ...", flush=True)
    server = Server(Path(args.root), model)
    rows = []
    try:
        for fault in FAULTS:
            if wanted and fault.key not in wanted:
                continue
            for via in ("ws", "rest"):
                if via == "rest" and fault.rest_script is None:
                    continue
                rows.append(run_fault(fault, via, server, model, args.cap))
                print(" | ".join(rows[-1]), flush=True)
    finally:
        server.stop()
        model.stop()
    print()
    print_table(rows, ["fault", "via", "time to error", "client got", "question stored", "answer stored",
                       "reservations held", "next message"])
    if not args.no_process_faults:
        process_rows()
    return 0


if __name__ == "__main__":
    sys.exit(main())
