"""Real separate processes for the worker / runall / cross-process tests.

Each test gets its own SQLite database file (copied from one migrated once per session) and
starts manage.py commands against it with production settings, as an operator would. Every
process is started in its own session (process group) and the group is killed at teardown;
`leftovers()` proves nothing from a test survives it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(ROOT / "manage.py")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProcessSite:
    """A data directory with a migrated database, and the processes started against it."""

    def __init__(self, data_dir: Path, template_db: Path | None = None, **env):
        self.data_dir = data_dir
        self.db = data_dir / "db.sqlite3"
        if template_db is not None:
            shutil.copy(template_db, self.db)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_", "CHROMA_", "TASKS_", "LLM_"))},
            "DJANGO_SETTINGS_MODULE": "tutorhub.settings",
            "DATA_DIR": str(data_dir),
            "DATABASE_URL": f"sqlite:///{self.db}",
            "SECRET_KEY": "process-tests-" + "k" * 40,
            "DEBUG": "1",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            **{k: str(v) for k, v in env.items()},
        }
        self.procs: list[subprocess.Popen] = []

    def start(self, *args: str, log: str | None = None, **env) -> subprocess.Popen:
        out = open(self.data_dir / (log or f"{args[0]}.log"), "ab")  # noqa: SIM115  (closed with the process)
        proc = subprocess.Popen(
            [*MANAGE, *args], cwd=ROOT, env={**self.env, **{k: str(v) for k, v in env.items()}},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        proc.log_file = out
        self.procs.append(proc)
        return proc

    def run(self, *args: str, timeout: float = 120, **env) -> str:
        done = subprocess.run(
            [*MANAGE, *args], cwd=ROOT, env={**self.env, **{k: str(v) for k, v in env.items()}},
            capture_output=True, text=True, timeout=timeout,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def python(self, code: str, timeout: float = 120) -> str:
        """Run Django code in a separate process against this site; returns its stdout."""
        return self.run("shell", "-c", code, timeout=timeout)

    def query(self, sql: str, params=()) -> list[tuple]:
        with sqlite3.connect(self.db, timeout=10) as conn:
            return conn.execute(sql, params).fetchall()

    def log(self, name: str) -> str:
        path = self.data_dir / name
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        """SIGTERM each process group, SIGKILL what is left after 10 s."""
        for proc in self.procs:
            if proc.poll() is None:
                _killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            proc.log_file.close()


def _killpg(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def runall_children(pid: int) -> dict[str, int]:
    """{"server"|"worker"|"scheduler": pid} of runall's live children, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().split(") ", 1)[1].split()
            if int(stat[1]) != pid or stat[0] == "Z":
                continue
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for name, arg in (("server", b"runall"), ("worker", b"run_worker"), ("scheduler", b"run_scheduler")):
            if arg in cmd:
                found[name] = int(entry.name)
    return found


def http_ok(port: int, path: str = "/healthz") -> bool:
    """Whether the server on `port` answers `path` with 200 now."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def wait_for(predicate, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def leftovers(data_dir: Path) -> list[str]:
    """Processes (scanned in /proc) still running with this site's DATA_DIR in their environment."""
    return [cmdline for _, cmdline in processes_with_env("DATA_DIR", str(data_dir))]


def processes_with_env(key: str, value: str) -> list[tuple[int, str]]:
    """(pid, command line) of live processes (scanned in /proc) whose environment has key=value.

    Environment markers survive what parent links do not: a child re-parented to init after
    its parent died still carries the DATA_DIR (or test-run id) it was started with."""
    found = []
    marker = f"{key}={value}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().split(") ", 1)[1].startswith("Z"):
                continue  # a zombie is dead; its parent just has not reaped it yet
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append((int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")))
        except OSError:
            continue
    return found
