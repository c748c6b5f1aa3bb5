"""Fixtures for the web app's tests: a real `manage.py runall` (uvicorn serving tutorhub.asgi
with WebSockets, the task worker and the scheduler) in a subprocess on its own database, and
headless Debian Chromium driven by Playwright. Browser tests skip cleanly when
/usr/bin/chromium is missing.

Every browser test is also held to issue 14's page rules by the `page` fixture and helpers here:
- no request the page makes may leave 127.0.0.1 (recorded for the whole context, checked at
  teardown; external requests are aborted, so nothing waits on an unreachable network);
- `assert_accessible(page)` runs the vendored axe-core and fails on serious/critical violations;
- the server's processes (runall and its children) are all gone after teardown, and the
  session-end check in tests/conftest.py fails the run if anything from the suite survives."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.core.processes import processes_with_env
from tutorhub.core.management.commands.runall import _child_setup

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
AXE_SOURCE = ROOT / "tests" / "web" / "vendor" / "axe.min.js"
# Schemes that never touch the network; everything else must be the loopback test server.
LOCAL_SCHEMES = ("data", "blob", "about", "chrome-extension")
START_TIMEOUT = 120.0  # usually 3-5 s; a CI machine under full load has taken over 60 s
STOP_TIMEOUT = 20.0  # runall stops its children within 10 s; this leaves room on a loaded machine


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


def server_env(data_dir: Path) -> dict[str, str]:
    """The environment the browser tests' server runs with: the project's real settings, the
    offline AI backends, a task worker on the database, and DATA_DIR (which also marks every
    process of this server for `processes_with_env`)."""
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
        # The offline tutor streams at a model's pace (≈30 pieces/s) so a stop lands mid-answer.
        OFFLINE_LLM_STREAM_DELAY="0.03",
    )
    return env


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    if done.returncode:
        raise RuntimeError(f"migrate failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def start_runall(env: dict[str, str], log) -> tuple[subprocess.Popen, str]:
    """Start `manage.py runall` on a free loopback port and wait (bounded) for /healthz.

    It is set up like runall's own children: its own process group, so a Ctrl+C meant for
    pytest is not also delivered to it mid-teardown (runall forwards SIGTERM itself), and
    PR_SET_PDEATHSIG, so that if pytest itself is killed (a CI timeout, kill -9) runall gets
    SIGTERM and stops its children instead of serving on with nobody to stop it."""
    port = _free_port()
    process = subprocess.Popen(  # noqa: PLW1509  (the fixture starts it before any thread of its own)
        [sys.executable, "manage.py", "runall", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_child_setup,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_runall(process, env)
            raise RuntimeError("the ASGI server did not start (see server.log in the test's data directory)")
        time.sleep(0.1)


def stop_runall(process: subprocess.Popen, env: dict[str, str]) -> list[str]:
    """Stop runall the way an operator does (SIGTERM: it stops its children and waits for
    them), reap it, then SIGKILL and report anything still running with this server's DATA_DIR.

    The previous teardown only terminated the parent and never looked again, so a child that
    missed the forwarded signal (or a grandchild in its group) outlived the suite. Returns the
    command lines of such survivors; callers assert it is empty."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    survivors = processes_with_env("DATA_DIR", env["DATA_DIR"])
    for pid, _ in survivors:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return [cmdline for _, cmdline in survivors]


@pytest.fixture(scope="session")
def asgi_server(tmp_path_factory):
    """Base URL of `manage.py runall` (uvicorn serving tutorhub.asgi:application, the
    database task worker and the scheduler: what `make run` starts) on a free loopback port.

    The server runs the project's real settings with the offline LLM, espeak TTS and a fresh
    database migrated here, so uploads are processed by the real worker in the background.
    With no EMAIL_HOST, mail goes to the console backend, i.e. server.log (see `server_log`)."""
    data_dir = tmp_path_factory.mktemp("web-e2e")
    env = server_env(data_dir)
    postgres = _ThrowawayPostgres(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL", "").startswith("postgres") else None
    if postgres:
        env["DATABASE_URL"] = postgres.create()
    log = (data_dir / "server.log").open("w")
    process = None
    try:
        migrate(env)
        process, url = start_runall(env, log)
        url_holder = _ServerURL(url)
        url_holder.data_dir = data_dir
        yield url_holder
    finally:
        survivors = stop_runall(process, env) if process is not None else []
        log.close()
        if postgres:
            postgres.drop()
    assert survivors == [], f"processes of the test server outlived its teardown: {survivors}"


class _ServerURL(str):
    """The server's base URL (a str, as before) that also knows its data directory."""

    data_dir: Path


@pytest.fixture
def server_log(asgi_server):
    """A callable returning what the server has logged so far (including console-backend mail)."""
    return lambda: (asgi_server.data_dir / "server.log").read_text(errors="replace")


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


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname == "127.0.0.1"


@pytest.fixture
def page(browser, asgi_server):
    """A fresh browser context (own cookies) per test, with dialogs recorded: no test page
    should ever open one, so an XSS payload that runs `alert()` is caught.

    Every request of the context (pages, workers, WebSockets) is recorded in `page.requests`;
    one that would leave 127.0.0.1 is aborted and fails the test at teardown."""
    context = browser.new_context(base_url=asgi_server, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.dialogs = []
    page.requests = []
    page.external_requests = []

    def _on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(route):
        url = route.request.url
        page.requests.append(url)
        if _is_local(url):
            route.continue_()
        else:
            page.external_requests.append(url)
            route.abort("blockedbyclient")

    def _on_websocket(socket):
        page.requests.append(socket.url)
        if not _is_local(socket.url):
            page.external_requests.append(socket.url)

    context.route("**/*", _route)
    page.on("websocket", _on_websocket)
    page.on("dialog", _on_dialog)
    page.console_errors = []
    page.on("console", lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    yield page
    context.close()
    assert page.external_requests == [], f"requests left 127.0.0.1: {page.external_requests}"


def assert_accessible(page, *, context: str | None = None) -> None:
    """Run axe-core (vendored, tests/web/vendor/axe.min.js) on the page as it is now and fail on
    any serious or critical violation, naming the rule and the offending elements.

    The script is evaluated through the DevTools protocol, not added as a <script> tag, so the
    page's strict CSP stays in force and is still tested."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE.read_text() + "\n;undefined")
    violations = page.evaluate(
        """async (selector) => {
            const result = await axe.run(selector ? document.querySelector(selector) : document,
                                         {resultTypes: ['violations']});
            return result.violations
              .filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => ({id: v.id, impact: v.impact, help: v.help,
                          nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}));
        }""",
        context,
    )
    assert violations == [], f"axe-core on {page.url}:\n{json.dumps(violations, indent=2)}"


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
