"""Fixtures for the web app's tests: a real ASGI server (uvicorn serving tutorhub.asgi with
WebSockets) in a subprocess on its own database, and headless Debian Chromium driven by
Playwright. Browser tests skip cleanly when /usr/bin/chromium is missing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _ThrowawayPostgres:
    """When the suite runs on PostgreSQL, the server gets its own database on that cluster
    (created here, dropped afterwards) so the end-to-end run covers PostgreSQL too."""

    def __init__(self, url: str):
        import dj_database_url

        self.config = dj_database_url.parse(url)
        self.name = f"tutorhub_web_e2e_{uuid.uuid4().hex[:10]}"
        self.url = url.rsplit("/", 1)[0] + "/" + self.name

    def _run(self, sql: str) -> None:
        import psycopg

        c = self.config
        with psycopg.connect(
            host=c["HOST"], port=c["PORT"] or 5432, user=c["USER"], password=c["PASSWORD"], dbname=c["NAME"], autocommit=True
        ) as conn:
            conn.execute(sql)

    def create(self) -> str:
        self._run(f'CREATE DATABASE "{self.name}"')
        return self.url

    def drop(self) -> None:
        self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def asgi_server(tmp_path_factory):
    """Base URL of `manage.py runall` (uvicorn serving tutorhub.asgi:application, the
    database task worker and the scheduler: what `make run` starts) on a free loopback port.

    The server runs the project's real settings with the offline LLM, espeak TTS and a fresh
    database migrated here, so uploads are processed by the real worker in the background."""
    data_dir = tmp_path_factory.mktemp("web-e2e")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LLM_", "EMBEDDING_", "STT_", "TTS_", "CHROMA_", "PYTEST", "REDIS_URL", "DATABASE_URL"))
    }
    env.update(
        DATA_DIR=str(data_dir),
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="tutorhub.settings",
        THROTTLING_ENABLED="0",
        TASKS_BACKEND="django_tasks_db.DatabaseBackend",
        LOG_LEVEL="WARNING",
    )
    postgres = _ThrowawayPostgres(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL", "").startswith("postgres") else None
    if postgres:
        env["DATABASE_URL"] = postgres.create()
    log = (data_dir / "server.log").open("w")
    process = None
    try:
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        if migrate.returncode:
            raise RuntimeError(f"migrate failed:\n{migrate.stdout[-3000:]}{migrate.stderr[-3000:]}")
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runall", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (data_dir / "server.log").read_text()[-3000:]
                raise RuntimeError(f"the ASGI server did not start:\n{tail}")
            time.sleep(0.1)
        yield url
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
        if postgres:
            postgres.drop()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (a fresh, empty profile each launch)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, asgi_server):
    """A fresh browser context (own cookies) per test, with dialogs recorded: no test page
    should ever open one, so an XSS payload that runs `alert()` is caught."""
    context = browser.new_context(base_url=asgi_server, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.dialogs = []

    def _on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", _on_dialog)
    page.console_errors = []
    page.on("console", lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS

