"""Django's ASGI handler, with the request's synchronous part run in one hop on a reused thread.

Two costs of Django's own ASGIHandler, both measured with benchmarks/http_api.py:

- Its middleware chain is built in async mode. Every MiddlewareMixin middleware in it (security,
  sessions, common, CSRF, auth, messages, clickjacking) then runs process_request and
  process_response through sync_to_async, WhiteNoise (sync only) needs an async_to_sync back, and
  the view one more hop: ~14 handoffs between the event loop and a thread per request, more than
  half the server CPU of a small response. Here the chain is built in sync mode, exactly as
  under WSGI, and called with a single sync_to_async per request. An async view (readyz) still
  works: the sync chain calls it through async_to_sync, on this same event loop.

- Each request runs its sync part in a ThreadSensitiveContext, which starts a new thread for it
  and stops the thread at the end. A database connection belongs to a thread, so every request
  opened a new one (for SQLite: open the file, run the PRAGMAs, register the functions: 15% of the
  request threads' samples) and CONN_MAX_AGE never reused anything; the dead threads' SQLite
  connections waited for the garbage collector to be closed. Here a request borrows a thread from
  a fixed set of long-lived ones (RequestThreads) and hands it back at the end, so the thread's
  connection serves the next request. Django's own request_started / request_finished signals
  still run on that thread at the start and end of each request (close_old_connections): a
  connection left in a transaction, with errors, or older than CONN_MAX_AGE is closed there, so
  nothing carries over. With PostgreSQL's pool (CONN_MAX_AGE 0) the connection goes back to the
  pool at the end of every request, as before.

Why a pool of ASGI_REQUEST_THREADS (default 32) rather than Channels' single database thread:
one thread would queue every request behind the slowest one (an upload being extracted, a REST
chat answer waiting up to AI_TOTAL_TIMEOUT_SECONDS on a model). Beyond a few threads, more does
not add CPU throughput (one interpreter lock), only room for requests that wait on I/O, so the
size is about how many slow synchronous requests may run at once before others queue. A request
that finds every thread busy waits for one; the wait is logged with the requests holding the
threads, and after ASGI_REQUEST_THREAD_WAIT_SECONDS it is answered 503 SERVER_BUSY with
Retry-After, rather than queueing silently without bound. How many of the threads run at once is
bounded separately and much lower (RunningSlots, ASGI_RUNNING_REQUESTS).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import logging
import queue
import threading
import time

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import connections
from django.http import FileResponse
from django.urls import get_resolver, set_script_prefix, set_urlconf

logger = logging.getLogger(__name__)

BUSY_RETRY_AFTER_SECONDS = 5
RESOLVED_PATHS = 1024  # URL matches remembered (_resolve_path): paths with ids are many
WAIT_LOG_INTERVAL_SECONDS = 10.0  # at most one "all threads busy" warning this often


class RequestThread(concurrent.futures.Executor):
    """One long-lived thread running the calls submitted to it, in order: the executor that
    asgiref's ThreadSensitiveContext needs (one call at a time, on one thread).

    The thread is a daemon, unlike ThreadPoolExecutor's, which the interpreter joins at exit:
    when the server is told to stop at once (a second SIGTERM or SIGINT), a view still running
    must not hold the process open. Its transaction is rolled back by the database, as on a
    crash."""

    def __init__(self, name: str):
        self.name = name
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # What the thread serves now, for the report when every thread is busy.
        self.serving: str = ""
        self.busy_since: float = 0.0

    def submit(self, fn, /, *args, **kwargs):
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        self._calls.put((future, fn, args, kwargs))
        return future

    def _run(self) -> None:
        while True:
            call = self._calls.get()
            if call is None:
                connections.close_all()  # this thread's connections: nobody else can close them
                return
            future, fn, args, kwargs = call
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting request
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._calls.put(None)
            if wait:
                thread.join()


class RequestThreads:
    """`size` RequestThreads that requests borrow one at a time. Used from one event loop (the
    server's): acquire and release are not safe across threads.

    The most recently released thread is lent first, so under light load a few threads (and
    their connections) serve everything and the rest stay idle."""

    def __init__(self, size: int, wait_timeout: float):
        if size < 1:
            raise ValueError("ASGI_REQUEST_THREADS must be at least 1")
        self.size = size
        self.wait_timeout = wait_timeout
        self.threads = [RequestThread(f"http-request-{n}") for n in range(size)]
        self._idle = self.threads[::-1]
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._busy: set[RequestThread] = set()
        self._last_wait_log = float("-inf")

    async def acquire(self, serving: str) -> RequestThread:
        if self._idle:
            thread = self._idle.pop()
        else:
            thread = await self._wait(serving)
        thread.serving, thread.busy_since = serving, time.monotonic()
        self._busy.add(thread)
        return thread

    async def _wait(self, serving: str) -> RequestThread:
        now = time.monotonic()
        if now - self._last_wait_log >= WAIT_LOG_INTERVAL_SECONDS:
            self._last_wait_log = now
            logger.warning(
                "All %d request threads are busy; %s waits for one (up to %.0f s). Running longest: %s. "
                "Raise ASGI_REQUEST_THREADS, or move slow work out of the request.",
                self.size, serving, self.wait_timeout, self.report(now),
            )
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), self.wait_timeout)
        except (TimeoutError, asyncio.CancelledError):
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())  # handed over just as the wait ended: pass it on
            else:
                waiter.cancel()
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def release(self, thread: RequestThread) -> None:
        self._busy.discard(thread)
        thread.serving, thread.busy_since = "", 0.0
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(thread)
                return
        self._idle.append(thread)

    def report(self, now: float | None = None, limit: int = 3) -> str:
        now = time.monotonic() if now is None else now
        longest = sorted(self._busy, key=lambda t: t.busy_since)[:limit]
        return ", ".join(f"{t.serving} for {now - t.busy_since:.1f} s" for t in longest) or "none"

    @property
    def idle(self) -> int:
        return len(self._idle)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the threads once their current calls are done, closing their connections."""
        for thread in self.threads:
            thread.shutdown(wait=wait)


class RunningSlots:
    """At most `limit` requests run their synchronous part at once; a request still running after
    `long_running` seconds stops counting. Used from one event loop (the server's).

    The request threads share one interpreter lock. With 20 clients and 32 threads every thread
    had a request, and each GIL hand-over between them (at every database call, every 5 ms switch
    interval) cost a context switch and a cold cache: a 20-card list page took 8.0 ms of server
    CPU per request at 20 clients against 3.9 ms at one (benchmarks/http_api.py). Running more of
    them at once gained nothing: there is one core's worth of Python.

    Lowering ASGI_REQUEST_THREADS would do the same but bring back the queue behind the slow
    requests the threads are there for (a REST chat answer waiting on a model for seconds). So the
    threads stay, and this counts the requests that run: one over the limit waits here, on the
    event loop, before its thread is given any work. A request still running after `long_running`
    seconds is taken to be waiting on something other than this process's CPU (a model, an
    outbound fetch, a password hash, a lock) and its slot goes to the next request, as Go's
    scheduler hands a processor on from a thread stuck in a system call. That needs no list of
    slow calls, and a request that waits on another request (a call back to this server) cannot
    hold the others up for longer than that. Waiting requests get slots in arrival order."""

    def __init__(self, limit: int, long_running: float):
        if limit < 1:
            raise ValueError("ASGI_RUNNING_REQUESTS must be at least 1")
        self.limit, self.long_running = limit, long_running
        self._counted: dict[object, float] = {}  # token -> since (loop time); insertion order is age order
        self._waiters: collections.deque[tuple[asyncio.Future, object]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None

    @contextlib.asynccontextmanager
    async def slot(self):
        token = object()
        if len(self._counted) < self.limit and not self._waiters:
            self._counted[token] = asyncio.get_running_loop().time()
        else:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append((waiter, token))
            self._schedule()
            try:
                await waiter
            except BaseException:  # cancelled while waiting; a cancelled waiter is skipped
                if waiter.done() and not waiter.cancelled():
                    self._release(token)  # it was handed the slot just as it was cancelled
                raise
        try:
            yield
        finally:
            self._release(token)

    @property
    def running(self) -> int:
        return len(self._counted)

    def _release(self, token: object) -> None:
        if self._counted.pop(token, None) is not None:
            self._hand_on()

    def _hand_on(self) -> None:
        while self._waiters and len(self._counted) < self.limit:
            waiter, token = self._waiters.popleft()
            if not waiter.done():
                self._counted[token] = asyncio.get_running_loop().time()
                waiter.set_result(None)
        self._schedule()

    def _schedule(self) -> None:
        """A timer for when the oldest counted request becomes long-running, while anyone waits."""
        if self._timer is None and self._waiters and self._counted:
            since = next(iter(self._counted.values()))
            self._timer = asyncio.get_running_loop().call_at(since + self.long_running, self._overdue)

    def _overdue(self) -> None:
        self._timer = None
        started_before = asyncio.get_running_loop().time() - self.long_running
        for token, since in list(self._counted.items()):
            if since > started_before:
                break
            del self._counted[token]  # long-running: it keeps going, uncounted
        self._hand_on()


class SyncChainASGIHandler(ASGIHandler):
    def __init__(self, threads: int | None = None, wait_timeout: float | None = None, running: int | None = None,
                 long_running: float | None = None):
        super().__init__()
        self.threads = RequestThreads(
            settings.ASGI_REQUEST_THREADS if threads is None else threads,
            settings.ASGI_REQUEST_THREAD_WAIT_SECONDS if wait_timeout is None else wait_timeout,
        )
        self.running = RunningSlots(
            settings.ASGI_RUNNING_REQUESTS if running is None else running,
            settings.ASGI_LONG_RUNNING_SECONDS if long_running is None else long_running,
        )

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    def resolve_request(self, request):
        """Django's, with the match for a path remembered (_resolve_path)."""
        if hasattr(request, "urlconf"):
            set_urlconf(request.urlconf)
            resolver = get_resolver(request.urlconf)
        else:
            resolver = get_resolver()
        request.resolver_match = _resolve_path(resolver, request.path_info)
        return request.resolver_match

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # The body first, on the event loop: a slow upload holds no thread while it arrives.
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            thread = await self.threads.acquire(f"{scope.get('method', '')} {scope.get('path', '')}")
        except TimeoutError:
            body_file.close()
            logger.error("No request thread came free within %.0f s; answered 503. Running longest: %s",
                         self.threads.wait_timeout, self.threads.report())
            await _send_busy(send)
            return
        try:
            # Every thread-sensitive call of this request (request_started's receivers, the
            # middleware chain and view, response.close() with request_finished) runs on `thread`.
            async with ThreadSensitiveContext(executor=thread):
                await self._serve(scope, body_file, receive, send)
        finally:
            self.threads.release(thread)

    async def _serve(self, scope, body_file, receive, send):
        """Django's ASGIHandler.handle once the body is read, with one hop to the request thread
        instead of three.

        Django's goes to a thread for request_started's receivers, again for the middleware
        chain and view, and a third time after sending for response.close() (request_finished),
        and it starts two tasks per request (the response and a disconnect listener). Each hop
        is a context copy, a future, a queue put and a wake-up of the event loop: with the tasks,
        ~15% of a 20-card list's server CPU (py-spy, 50 clients). Here the thread does all three
        in one call, and a response whose body is already in memory is closed there, before it
        is sent: closing it releases nothing the sending needs. Only a streaming response (a
        file download) is sent part by part, raced against the client's disconnect, and closed
        after its last part (_send_streaming).

        A sync view cannot be cancelled when the client goes away (its thread runs to the end
        either way), so listening for the disconnect while it runs bought nothing."""
        set_script_prefix(get_script_prefix(scope))
        try:
            async with self.running.slot():
                response = await sync_to_async(self._respond, thread_sensitive=True)(scope, body_file)
            if response.streaming:
                await self._send_streaming(response, receive, send)
            else:
                await self.send_response(response, send)
        finally:
            body_file.close()

    def _respond(self, scope, body_file):
        """On the request thread: request_started, the request, its response, closed if whole."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size  # the server does the low-level chunking
        if not response.streaming:
            response.close()  # request_finished: the thread's connection is checked (or pooled)
        return response

    async def _send_streaming(self, response, receive, send):
        """A streaming response, stopped when the client disconnects, closed on its thread.

        A synchronous iterator (a FileResponse: a document download) is read one part at a
        time on the request's thread. Django's ASGI handler reads it whole into a list first
        (StreamingHttpResponse.__aiter__), so a 50 MB download held 50 MB of memory before its
        first byte went out."""
        if not response.is_async:
            response.streaming_content = _parts_on_thread(iter(response.streaming_content))
        sending = asyncio.create_task(self.send_response(response, send))
        listening = asyncio.create_task(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait([sending, listening], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (listening, sending):
                task.cancel()  # a finished task ignores it
            outcomes = await asyncio.gather(listening, sending, return_exceptions=True)
            await sync_to_async(response.close, thread_sensitive=True)()
        for outcome in outcomes:
            if isinstance(outcome, Exception) and not isinstance(outcome, RequestAborted):  # a disconnect is no error
                raise outcome


async def _parts_on_thread(parts):
    """The parts of a synchronous iterator, each read by a thread-sensitive call (on the
    request's thread, where the view made the iterator)."""
    read = sync_to_async(next, thread_sensitive=True)
    while (part := await read(parts, None)) is not None:
        yield part


@functools.lru_cache(maxsize=RESOLVED_PATHS)
def _resolve_path(resolver, path: str):
    """resolver.resolve(path), remembered for the last RESOLVED_PATHS paths.

    Resolving walks the URL patterns in order, and each app's include() that does not match
    builds the list of patterns it tried: ~0.7 ms of CPU for /api/v1/assessments/flashcards/ on
    this machine's Python, ~10% of a 20-card list request (py-spy). A match is a plain record
    (view, arguments, names) that Django and DRF only read, so requests for the same path share
    it. A path that does not resolve raises Resolver404 and is not remembered. The resolver is
    part of the key: when the URL configuration changes (clear_url_caches, a request's own
    urlconf), get_resolver returns a new one and nothing old is used."""
    return resolver.resolve(path)


async def _send_busy(send) -> None:
    from tutorhub.core.exceptions import error_body
    from tutorhub.core.middleware import new_request_id, send_error_envelope

    body = error_body(detail="The server is busy; try again shortly.", error_code="SERVER_BUSY", request_id=new_request_id())
    await send_error_envelope(send, 503, body, [(b"retry-after", str(BUSY_RETRY_AFTER_SECONDS).encode())])


def get_asgi_application() -> SyncChainASGIHandler:
    """django.core.asgi.get_asgi_application with this handler."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
