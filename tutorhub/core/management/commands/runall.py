from __future__ import annotations

import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

# The server implementations benchmarks/chat_stream.py measures. Per-message deflate is off:
# streamed tokens are a few bytes per frame, so compressing each one cost ~10% of the server's
# CPU and saved next to nothing on the wire.
SERVER_OPTIONS = {"loop": "uvloop", "http": "httptools", "ws": "websockets-sansio", "ws_per_message_deflate": False}


class Command(BaseCommand):
    help = "Run the ASGI server (HTTP + WebSockets) with the task worker and the scheduler beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="ASGI worker processes")
        parser.add_argument("--log-level", default="info", help="uvicorn's log level")
        parser.add_argument(
            "--server-only", action="store_true", help="no task worker or scheduler (they run elsewhere)"
        )

    def handle(self, *args, host: str, port: int, workers: int, log_level: str, server_only: bool, **options):
        import uvicorn

        children: list[subprocess.Popen] = []
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        if not server_only:
            if settings.TASKS["default"]["BACKEND"].startswith("django_tasks_db"):
                children.append(subprocess.Popen([*manage, "db_worker", "--interval", "0.5"]))
            children.append(subprocess.Popen([*manage, "run_scheduler"]))
        self.stdout.write(f"TutorHub on http://{host}:{port}/  (API docs: http://{host}:{port}/api/v1/docs/)")
        try:
            uvicorn.run(
                "tutorhub.asgi:application",
                host=host,
                port=port,
                workers=workers,
                lifespan="off",
                log_level=log_level,
                proxy_headers=True,
                **SERVER_OPTIONS,
            )
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
