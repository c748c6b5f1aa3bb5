"""Under ASGI a request's synchronous part runs on a reused thread (tutorhub/core/asgi.py): the
thread's database connection serves the next request, nothing a request leaves behind reaches the
next one, a request never waits for a thread silently or without bound, and the server still
stops at once on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async
from django.core.signals import request_finished, request_started
from django.db import connection

from tests.core import thread_urls
from tests.core.processes import free_port, http_ok, wait_for
from tutorhub.core.asgi import RunningSlots, SyncChainASGIHandler
from tutorhub.core.models import ChannelLayerMessage

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("tests.core.thread_urls")]


class Answer:
    def __init__(self, status: int, headers: dict[bytes, bytes], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> dict:
        return json.loads(self.body)


async def call(app, path: str, *, method: str = "GET", body: bytes = b"", body_gate: asyncio.Event | None = None,
               on_body=None) -> Answer:
    """One request through the ASGI app. With body_gate, the body's last part is sent only once
    the gate is set (a slow upload); on_body(part) is told of each part of the answer."""
    parts = [(body[: len(body) // 2], True), (body[len(body) // 2 :], False)] if body_gate else [(body, False)]
    answered = asyncio.Event()
    started: dict = {}
    chunks: list[bytes] = []

    async def receive():
        if parts:
            chunk, more = parts.pop(0)
            if not more and body_gate is not None:
                await asyncio.wait_for(body_gate.wait(), 10)
            return {"type": "http.request", "body": chunk, "more_body": more}
        await answered.wait()  # the client goes away once it has the answer
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if on_body is not None and message.get("body"):
                on_body(message["body"])
            if not message.get("more_body"):
                answered.set()

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"localhost"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 80),
    }
    await asyncio.wait_for(app(scope, receive, send), 20)
    return Answer(started["status"], dict(started["headers"]), b"".join(chunks))


@pytest.fixture
def make_handler():
    made: list[SyncChainASGIHandler] = []

    def make(**options) -> SyncChainASGIHandler:
        made.append(SyncChainASGIHandler(**options))
        return made[-1]

    yield make
    thread_urls.release.set()  # nothing left holding a thread
    for handler in made:
        handler.threads.shutdown()  # each thread closes its own connection as it stops
    thread_urls.release.clear()


def on_thread(handler: SyncChainASGIHandler, func):
    """func() run on the handler's first request thread (its connection is that thread's)."""
    return handler.threads.threads[0].submit(func).result(timeout=10)


async def test_one_thread_and_its_connection_serve_request_after_request(make_handler):
    handler = make_handler(threads=1)
    signalled: list[tuple[str, int]] = []

    def started(**kwargs):
        signalled.append(("started", threading.get_ident()))

    def finished(**kwargs):
        signalled.append(("finished", threading.get_ident()))

    request_started.connect(started, weak=False)
    request_finished.connect(finished, weak=False)
    try:
        first, second = await call(handler, "/where/"), await call(handler, "/where/")
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
    assert first.status == second.status == 200
    thread = first.json()["thread"]
    assert second.json()["thread"] == thread != threading.get_ident()
    # Django's request signals (close_old_connections) ran on the request's own thread, in order.
    assert signalled == [("started", thread), ("finished", thread)] * 2
    if getattr(connection, "pool", None) is None:
        # A persistent connection (CONN_MAX_AGE): the second request used the first one's.
        assert connection.settings_dict["CONN_MAX_AGE"]
        assert second.json()["connection"] == first.json()["connection"]
        assert on_thread(handler, lambda: id(connection.connection)) == first.json()["connection"]
    else:
        # PostgreSQL's pool: the connection went back to the pool at the end of each request.
        assert on_thread(handler, lambda: connection.connection) is None


async def test_a_streaming_response_is_sent_part_by_part_then_closed_on_its_thread(make_handler):
    handler = make_handler(threads=1)
    finished: list[int] = []

    def on_finished(**kwargs):
        finished.append(threading.get_ident())

    thread_urls.streamed.clear()
    request_finished.connect(on_finished, weak=False)
    try:
        answer = await call(handler, "/stream/", on_body=lambda part: thread_urls.streamed.append(f"sent {part.decode()}"))
        where = await call(handler, "/where/")
    finally:
        request_finished.disconnect(on_finished)
    assert answer.status == 200 and answer.body == b"part 0;part 1;part 2;"
    # A synchronous iterator (as a FileResponse's) is read a part at a time, not whole first.
    assert thread_urls.streamed == ["part 0", "sent part 0;", "part 1", "sent part 1;", "part 2", "sent part 2;",
                                    "closed"]
    assert finished == [where.json()["thread"]] * 2  # once per request, on the request thread


async def test_a_client_that_leaves_mid_stream_stops_the_stream(make_handler):
    handler = make_handler(threads=1)
    thread_urls.streamed.clear()
    got_body = asyncio.Event()
    chunks: list[bytes] = []
    requested = []

    async def receive():
        if not requested:
            requested.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await got_body.wait()  # the client leaves once the first part has arrived
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            got_body.set()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/stream/", "raw_path": b"/stream/", "query_string": b"endless=1", "root_path": "",
             "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 80)}
    await asyncio.wait_for(handler(scope, receive, send), 20)
    assert thread_urls.streamed[-1] == "closed" and len(thread_urls.streamed) < 10_000
    assert (await call(handler, "/where/")).status == 200  # the thread is free again


async def test_a_transaction_a_view_left_open_is_rolled_back_not_carried_over(make_handler):
    handler = make_handler(threads=1)
    left = await call(handler, "/leave-open/")
    after = await call(handler, "/where/")
    assert left.status == after.status == 200
    assert after.json()["thread"] == left.json()["thread"]
    # request_finished closed the connection it found outside autocommit: the row was rolled back,
    # the thread's next request ran on a fresh connection in autocommit mode.
    assert not await sync_to_async(ChannelLayerMessage.objects.filter(group=thread_urls.LEFT_OPEN_GROUP).exists)()
    assert on_thread(handler, connection.get_autocommit) is True
    # ...and no lock is left behind: another connection writes at once (SQLite has one write lock).
    began = time.monotonic()
    await sync_to_async(ChannelLayerMessage.objects.create)(created_at="2026-01-01T00:00:00Z", origin="t", group="g", message={})
    assert time.monotonic() - began < 5


async def _hold_every_thread(handler: SyncChainASGIHandler) -> list[asyncio.Task]:
    holders = [asyncio.create_task(call(handler, "/hold/")) for _ in range(handler.threads.size)]
    for _ in range(200):
        if handler.threads.idle == 0:
            return holders
        await asyncio.sleep(0.05)
    raise AssertionError("the holding requests never took every thread")


async def test_a_request_that_finds_every_thread_busy_waits_for_one(make_handler):
    handler = make_handler(threads=2, wait_timeout=10)
    holders = await _hold_every_thread(handler)
    waiting = asyncio.create_task(call(handler, "/where/"))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    thread_urls.release.set()
    answers = await asyncio.gather(*holders, waiting)
    assert [a.status for a in answers] == [200, 200, 200]
    # It was served by one of the two threads the holders gave back.
    assert answers[2].json()["thread"] in {a.json()["thread"] for a in answers[:2]}
    assert handler.threads.idle == 2


async def test_threads_busy_for_the_whole_wait_are_logged_and_answered_503(make_handler, caplog):
    handler = make_handler(threads=2, wait_timeout=0.5)
    holders = await _hold_every_thread(handler)
    await asyncio.sleep(0.1)
    with caplog.at_level(logging.WARNING, logger="tutorhub.core.asgi"):
        began = time.monotonic()
        busy = await call(handler, "/where/")
    assert 0.4 < time.monotonic() - began < 5
    assert busy.status == 503
    assert busy.headers[b"retry-after"] == b"5"
    body = busy.json()
    assert body["error_code"] == "SERVER_BUSY" and body["detail"]
    assert body["request_id"] == busy.headers[b"x-request-id"].decode()
    # The operator learns it, and which requests held the threads.
    assert "All 2 request threads are busy" in caplog.text and "GET /hold/" in caplog.text
    assert "answered 503" in caplog.text
    thread_urls.release.set()
    assert [a.status for a in await asyncio.gather(*holders)] == [200, 200]
    assert (await call(handler, "/where/")).status == 200  # the threads came back


async def test_no_more_requests_run_at_once_than_the_running_slots(make_handler):
    handler = make_handler(threads=8, running=2, long_running=5)
    thread_urls.running.update(now=0, most=0)
    answers = await asyncio.gather(*(call(handler, "/busy/") for _ in range(8)))
    assert [a.status for a in answers] == [200] * 8
    assert thread_urls.running["most"] == 2  # eight threads, two running at a time
    assert handler.running.running == 0


async def test_a_long_running_request_gives_its_slot_to_the_next(make_handler):
    # One slot, held by a request waiting on something else: the next one runs once the first
    # has run for long_running seconds, instead of waiting behind it.
    handler = make_handler(threads=4, running=1, long_running=0.3)
    holder = asyncio.create_task(call(handler, "/hold/"))
    await asyncio.sleep(0.05)
    began = time.monotonic()
    other = await call(handler, "/where/")
    assert other.status == 200 and 0.2 < time.monotonic() - began < 3
    assert not holder.done()
    thread_urls.release.set()
    assert (await holder).status == 200
    assert handler.running.running == 0


async def test_running_slots_go_in_arrival_order_and_a_cancelled_wait_takes_none():
    slots = RunningSlots(limit=1, long_running=60)
    order: list[str] = []
    release = asyncio.Event()

    async def run(name: str):
        async with slots.slot():
            order.append(name)
            await release.wait()

    first = asyncio.create_task(run("first"))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(run(name)) for name in ("second", "gone", "third")]
    await asyncio.sleep(0.01)
    waiting[1].cancel()
    release.set()
    await asyncio.gather(first, waiting[0], waiting[2])
    assert order == ["first", "second", "third"]
    assert slots.running == 0
    with pytest.raises(ValueError):
        RunningSlots(limit=0, long_running=1)


async def test_a_slow_upload_holds_no_thread_while_its_body_arrives(make_handler):
    handler = make_handler(threads=1, wait_timeout=5)
    gate = asyncio.Event()
    upload = asyncio.create_task(call(handler, "/where/", method="POST", body=b"x" * 4000, body_gate=gate))
    await asyncio.sleep(0.2)
    other = await call(handler, "/where/")  # the only thread is free: the upload has not taken it
    assert other.status == 200 and not upload.done()
    gate.set()
    answer = await upload
    assert answer.status == 200 and answer.json()["body"] == 4000


@pytest.mark.django_db(transaction=False)
def test_sigterm_stops_a_server_whose_threads_hold_connections_within_seconds(process_site):
    site = process_site(ASGI_REQUEST_THREADS=4)
    port = free_port()
    proc = site.start("runall", "--server-only", "--port", str(port), log="server.log")
    assert wait_for(lambda: http_ok(port), 90, 0.3), site.log("server.log")

    def ready(_):  # /readyz queries the database on a request thread
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as response:
            return response.status

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(ready, range(16))) == {200}
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(15)
    assert time.monotonic() - began < 5, site.log("server.log")
    # uvicorn re-raises the signal once it has shut down cleanly.
    assert proc.returncode in (0, -signal.SIGTERM), site.log("server.log")
    assert "Finished server process" in site.log("server.log")
