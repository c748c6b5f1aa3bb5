"""`manage.py runall`: the ASGI server, the task worker and the scheduler, supervised.

The parent process only supervises. Each part is a child process (the server is this
command again with --server-only): a child that exits is restarted with backoff (1 s
doubling to 30 s, back to 1 s once it has stayed up 60 s) and each restart is logged.
SIGTERM/SIGINT is forwarded to the children as SIGTERM; whatever has not exited after
STOP_TIMEOUT seconds is killed, so runall is gone within 10 s.

Each child runs in its own process group, so a terminal's Ctrl+C reaches the parent only and
each child gets exactly one SIGTERM (the worker reads a second signal as "abandon the task
now"); PR_SET_PDEATHSIG makes a child die with the parent even when the parent is killed
with SIGKILL and cannot forward anything.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import BaseCommand

from tutorhub.core.backoff import Backoff

logger = logging.getLogger("tutorhub.runall")

# The server implementations benchmarks/chat_stream.py measures. Per-message deflate is off:
# streamed tokens are a few bytes per frame, so compressing each one cost ~10% of the server's
# CPU and saved next to nothing on the wire.
SERVER_OPTIONS = {"loop": "uvloop", "http": "httptools", "ws": "websockets-sansio", "ws_per_message_deflate": False}
STOP_TIMEOUT = 8.0  # SIGTERM → SIGKILL; leaves the parent well inside 10 s
STABLE_AFTER = 60.0  # a child up this long has recovered: its next restart waits 1 s again
PR_SET_PDEATHSIG = 1


def _child_setup() -> None:  # runs in the child between fork and exec
    os.setpgid(0, 0)
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    restarts: int = 0
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=1.0, maximum=30.0))

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, preexec_fn=_child_setup)  # noqa: PLW1509  (no threads in the parent)
        self.started_at = time.monotonic()

    def signal_group(self, signum: int) -> None:
        """Signal the child's whole group (uvicorn's workers, an extraction sandbox, ...), which
        may outlive the child itself."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signum)
            except ProcessLookupError:
                pass


class Supervisor:
    def __init__(self, children: list[Child], *, poll: float = 0.2):
        self.children = children
        self.poll = poll
        self.stopping: str | None = None

    def _on_signal(self, signum, frame) -> None:
        self.stopping = signal.Signals(signum).name

    def run(self) -> None:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for child in self.children:
                child.start()
            while self.stopping is None:
                self._check()
                time.sleep(self.poll)
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _check(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.proc is None:
                if now >= child.restart_at:
                    child.restarts += 1
                    logger.warning("runall: restarting %s (restart %d)", child.name, child.restarts)
                    child.start()
                continue
            code = child.proc.poll()
            if code is None:
                continue
            uptime = now - child.started_at
            if uptime >= STABLE_AFTER:
                child.backoff.reset()
            delay = child.backoff.failed()
            logger.warning(
                "runall: %s exited with code %s after %.1f s; restarting in %.0f s", child.name, code, uptime, delay
            )
            child.signal_group(signal.SIGKILL)  # anything it left behind in its group
            child.proc = None
            child.restart_at = now + delay

    def stop(self) -> None:
        running = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        if running:
            logger.info("runall: %s: stopping %s", self.stopping or "exit", ", ".join(c.name for c in running))
        for child in running:
            child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in running:
            try:
                child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("runall: %s did not stop within %.0f s; killing it", child.name, STOP_TIMEOUT)
        for child in self.children:
            child.signal_group(signal.SIGKILL)  # stragglers, and their groups' leftovers
            if child.proc is not None:
                child.proc.wait()


class Command(BaseCommand):
    help = "Run the ASGI server (HTTP + WebSockets) with the task worker and the scheduler beside it, supervised."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="ASGI worker processes")
        parser.add_argument("--log-level", default="info", help="uvicorn's log level")
        parser.add_argument(
            "--server-only", action="store_true",
            help="only the ASGI server, in this process, unsupervised (the worker and scheduler run elsewhere)",
        )

    def handle(self, *args, host: str, port: int, workers: int, log_level: str, server_only: bool, **options):
        if server_only:
            self.serve(host=host, port=port, workers=workers, log_level=log_level)
            return
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        children = [
            Child("server", [*manage, "runall", "--server-only", "--host", host, "--port", str(port),
                             "--workers", str(workers), "--log-level", log_level]),
        ]
        if settings.TASKS["default"]["BACKEND"].startswith("django_tasks_db"):
            children.append(Child("worker", [*manage, "run_worker", "--interval", "0.5"]))
        children.append(Child("scheduler", [*manage, "run_scheduler"]))
        self.stdout.write(f"TutorHub on http://{host}:{port}/  (API docs: http://{host}:{port}/api/v1/docs/)")
        Supervisor(children).run()

    def serve(self, *, host: str, port: int, workers: int, log_level: str) -> None:
        import uvicorn

        uvicorn.run(
            "tutorhub.asgi:application",
            host=host,
            port=port,
            workers=workers,
            lifespan="off",
            log_level=log_level,
            # X-Forwarded-* only from TRUSTED_PROXIES (uvicorn's default trusts loopback,
            # so any local client could pick its address); same rule as core/clientip.py.
            proxy_headers=bool(settings.TRUSTED_PROXIES),
            forwarded_allow_ips=list(settings.TRUSTED_PROXIES) or None,
            **SERVER_OPTIONS,
        )
