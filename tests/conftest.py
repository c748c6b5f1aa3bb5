"""Fixtures shared by every test package. App-specific fixtures live in tests/<app>/conftest.py."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.core.processes import processes_with_env
from tests.factories import PASSWORD, UserFactory
from tests.fakes.openai_server import FakeOpenAIServer

# Every process the suite starts inherits this id through its environment (even one started
# with a filtered copy of os.environ, and even after its parent died and it was re-parented),
# so the session-end check below finds whatever outlives the run (issue 14 item 10). Assigned,
# not defaulted: a pytest run started by a test checks its own processes, not its parent.
TEST_RUN_ENV = "TUTORHUB_TEST_RUN"
os.environ[TEST_RUN_ENV] = uuid.uuid4().hex


@pytest.hookimpl(trylast=True)  # after the session fixtures' teardown (runner's sessionfinish)
def pytest_sessionfinish(session, exitstatus):
    """Fail the run if a process it started is still running; kill it so it cannot linger."""
    deadline = time.monotonic() + 5  # a process signalled during teardown may still be exiting
    while (survivors := processes_with_env(TEST_RUN_ENV, os.environ[TEST_RUN_ENV])) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not survivors:
        return
    for pid, _ in survivors:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("processes started by the test run outlived it (killed now):", red=True)
        for pid, cmdline in survivors:
            reporter.write_line(f"  {pid}: {cmdline[:300]}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    """Media files and the embedded vector store go to a per-test temporary folder."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.VECTOR_STORES = {
        "default": {"BACKEND": "tutorhub.ai.backends.chroma.ChromaVectorStore", "OPTIONS": {"path": str(tmp_path / "chroma")}}
    }


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """A new channel layer for every test. pytest-asyncio gives each test its own event loop,
    and channels-redis refuses a receive() while one started on another loop is still marked
    in progress (a consumer cut off when its test's loop closed). Production has one loop per
    process, so this only matters here."""
    yield
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture(autouse=True, scope="session")
def _close_worker_thread_connections(django_db_setup):
    """Async code's database threads (Channels' one, the chat's turn and writes threads, the
    handshake thread) keep their connections between calls; close them before the test
    database is dropped (PostgreSQL refuses to drop a database in use).

    Their own close after each call does not always get to: a call that finishes after its
    test has ended meets pytest-django's block on database access, and the close (which asks
    the connection's autocommit first) fails there. Each task below waits for its siblings, so
    every thread of a pool runs one and closes its own connection."""
    yield
    import threading

    from asgiref.sync import SyncToAsync
    from django.db import connections

    from tutorhub.chat.services.tutor import _stream_writes, _turn_threads
    from tutorhub.core.ws_auth import _auth_threads

    for executor in (SyncToAsync.single_thread_executor, _stream_writes, _turn_threads, _auth_threads):
        all_threads = threading.Barrier(executor._max_workers)

        def close_then_wait(barrier=all_threads):
            connections.close_all()
            barrier.wait(timeout=10)

        for future in [executor.submit(close_then_wait) for _ in range(executor._max_workers)]:
            future.result()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def admin_user(db):
    return UserFactory(role="admin", is_staff=True)


@pytest.fixture
def teacher(db):
    return UserFactory(role="teacher")


@pytest.fixture
def parent(db):
    return UserFactory(role="parent")


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def api_client(user) -> APIClient:
    """Client authenticated as `user` with a real JWT access token."""
    return client_for(user)


@pytest.fixture
def admin_client(admin_user) -> APIClient:
    return client_for(admin_user)


@pytest.fixture(scope="session")
def fake_openai_server():
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_openai(fake_openai_server, settings):
    """Point every OpenAI-compatible backend at the fake server for one test."""
    fake_openai_server.reset()
    options = {"base_url": fake_openai_server.base_url, "api_key": "test", "timeout": 5.0, "max_retries": 0}
    settings.LLM_BACKENDS = {"default": {"BACKEND": "tutorhub.ai.backends.openai.OpenAILLM", "OPTIONS": {**options, "model": "fake-gpt"}}}
    settings.EMBEDDING_BACKENDS = {
        "default": {"BACKEND": "tutorhub.ai.backends.openai.OpenAIEmbeddings", "OPTIONS": {**options, "model": "fake-embed"}}
    }
    settings.SPEECH_BACKENDS = {
        "default": {
            "BACKEND": "tutorhub.ai.backends.speech.SpeechBackend",
            "OPTIONS": {"tts": "openai", "stt_base_url": fake_openai_server.base_url, "api_key": "test", "timeout": 5.0},
        }
    }
    return fake_openai_server


@pytest.fixture
def keep_test_transaction():
    """For tests that call the WSGI app directly (schemathesis): Django's handler closes "obsolete"
    connections around each request, which on PostgreSQL would drop the test's transaction;
    Django's own test client unhooks the same signals."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
