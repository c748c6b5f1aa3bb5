from __future__ import annotations

import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the ASGI server (HTTP + WebSockets) with the task worker and the scheduler beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="ASGI worker processes")

    def handle(self, *args, host: str, port: int, workers: int, **options):
        import uvicorn

        children: list[subprocess.Popen] = []
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
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
                log_level="info",
                proxy_headers=True,
            )
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
