"""Request ids (X-Request-ID on every response, same as the error body's request_id) and
rate-limit headers recorded by the throttles; request body size limits; the JSON error
envelope for every /api/ error; the Content-Security-Policy on HTML pages."""

from __future__ import annotations

import contextvars
import re
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_request_id() -> str:
    return "req_" + uuid.uuid4().hex[:20]


def get_request_id() -> str:
    return _request_id.get() or new_request_id()


class RequestIDMiddleware:
    """Accepts a sane incoming X-Request-ID (for tracing through a proxy) or makes one."""

    async_capable = True
    sync_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        # Decided once: inspect.iscoroutinefunction on every request was ~0.5% of a list's CPU.
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def _start(self, request) -> contextvars.Token:
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_ID.match(incoming) else new_request_id()
        return _request_id.set(request.request_id)

    @staticmethod
    def _finish(request, response):
        response["X-Request-ID"] = request.request_id
        limit = getattr(request, "ratelimit_limit", None)
        if limit is not None:
            response["X-RateLimit-Limit"] = str(limit)
            response["X-RateLimit-Remaining"] = str(max(0, request.ratelimit_remaining))
        return response

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        token = self._start(request)
        try:
            return self._finish(request, self.get_response(request))
        finally:
            _request_id.reset(token)

    async def __acall__(self, request):
        token = self._start(request)
        try:
            return self._finish(request, await self.get_response(request))
        finally:
            _request_id.reset(token)


class _ResponseMiddleware:
    """Base for the cheap, I/O-free middleware below: `before` may answer the request itself,
    `after` adjusts the response. Runs natively in both sync and async stacks (no thread hop
    per request, which MiddlewareMixin's async path would add)."""

    async_capable = True
    sync_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)  # once, as in RequestIDMiddleware
        if self.is_async:
            markcoroutinefunction(self)

    def before(self, request):
        return None

    def after(self, request, response):
        return response

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        return self.before(request) or self.after(request, self.get_response(request))

    async def __acall__(self, request):
        return self.before(request) or self.after(request, await self.get_response(request))


# --- Request body size ---------------------------------------------------------------------

def request_body_limit(content_type: str) -> int:
    """The largest body accepted with this Content-Type: uploads may be as large as the
    largest upload limit, anything else as large as DATA_UPLOAD_MAX_MEMORY_SIZE."""
    from django.conf import settings

    if content_type.lower().startswith("multipart/"):
        return settings.MAX_UPLOAD_BODY_BYTES
    return settings.MAX_REQUEST_BODY_BYTES


def payload_too_large_body(limit: int, request_id: str | None = None) -> dict:
    # Imported here: tutorhub.core.exceptions imports this module (get_request_id).
    from tutorhub.core.exceptions import error_body

    return error_body(
        detail=f"The request body is larger than the {limit // (1024 * 1024)} MB this endpoint accepts.",
        error_code="PAYLOAD_TOO_LARGE",
        details={"max_bytes": limit},
        request_id=request_id,
    )


class RequestBodyLimitMiddleware(_ResponseMiddleware):
    """413 from the Content-Length header, before the body is read (WSGI and the test client;
    under ASGI, RequestBodyLimitASGI below refuses it before Django spools it)."""

    def before(self, request):
        from django.http import JsonResponse

        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None  # the server or the parser rejects a malformed length
        limit = request_body_limit(request.META.get("CONTENT_TYPE", ""))
        if length > limit:
            return JsonResponse(payload_too_large_body(limit), status=413)
        return None


class RequestBodyLimitASGI:
    """ASGI wrapper around the Django application: Django's ASGI handler reads the whole body
    into a temporary file before any middleware runs, so an oversized upload must be refused
    here. A declared Content-Length over the limit is answered 413 without reading a byte; a
    body without one (chunked) is cut off as soon as it passes the limit."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or ())
        limit = request_body_limit(headers.get(b"content-type", b"").decode("latin-1"))
        declared = headers.get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > limit:
                return await self._refuse(send, limit)
            return await self.app(scope, receive, send)  # the server stops at the declared length

        received = 0
        exceeded = False
        started = False

        async def limited_receive():
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django's handler treats a disconnect while reading as an aborted request
                    # and returns without answering; the 413 is sent below.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)
        if exceeded and not started:
            await self._refuse(send, limit)

    @staticmethod
    async def _refuse(send, limit: int) -> None:
        request_id = new_request_id()
        await send_error_envelope(send, 413, payload_too_large_body(limit, request_id), [(b"connection", b"close")])


async def send_error_envelope(send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    """Answer an ASGI HTTP request with the JSON error envelope `body` (made by
    core.exceptions.error_body), from outside Django: before its handler has read the request."""
    import json

    content = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                (b"x-request-id", body["request_id"].encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


# --- API errors are always JSON ------------------------------------------------------------

API_PATH_PREFIXES = ("/api/", "/ws/")


class ApiErrorEnvelopeMiddleware(_ResponseMiddleware):
    """An HTML error page for an /api/ or /ws/ path (Django's DEBUG 404 page listing every URL
    pattern, its DEBUG 500 traceback, the CSRF failure page) becomes the JSON error envelope.
    Pages outside the API keep their HTML."""

    def after(self, request, response):
        if (
            response.status_code < 400
            or not request.path.startswith(API_PATH_PREFIXES)
            or not response.get("Content-Type", "").startswith("text/html")
        ):
            return response
        from tutorhub.core.exceptions import generic_error_response

        replacement = generic_error_response(response.status_code)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replacement[header] = response[header]
        return replacement


# --- Security headers on HTML pages --------------------------------------------------------

class SecurityHeadersMiddleware(_ResponseMiddleware):
    """Content-Security-Policy on every HTML response: settings.CONTENT_SECURITY_POLICY plus
    the additions of the longest matching prefix in settings.CONTENT_SECURITY_POLICY_PATHS.
    (Referrer-Policy and nosniff come from Django's SecurityMiddleware, on every response.)"""

    def __init__(self, get_response):
        from django.conf import settings

        super().__init__(get_response)
        base = settings.CONTENT_SECURITY_POLICY
        self.default_policy = self._render(base)
        # Longest prefix first, so the most specific one matches.
        self.path_policies = [
            (prefix, self._render({**base, **extra}))
            for prefix, extra in sorted(settings.CONTENT_SECURITY_POLICY_PATHS.items(), key=lambda item: -len(item[0]))
        ]

    @staticmethod
    def _render(policy: dict[str, list[str]]) -> str:
        return "; ".join(f"{directive} {' '.join(sources)}" for directive, sources in policy.items())

    def policy_for(self, path: str) -> str:
        for prefix, policy in self.path_policies:
            if path.startswith(prefix):
                return policy
        return self.default_policy

    def after(self, request, response):
        if "Content-Security-Policy" not in response and response.get("Content-Type", "").startswith("text/html"):
            response["Content-Security-Policy"] = self.policy_for(request.path)
        return response


# --- Query counting for benchmarks ---------------------------------------------------------

_query_count: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("query_count", default=None)


def _count_query(execute, sql, params, many, context):
    counter = _query_count.get()
    if counter is not None:
        counter[0] += 1
    return execute(sql, params, many, context)


def _install_query_counter(sender, connection, **kwargs):
    if _count_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_query)


class QueryCountMiddleware(_ResponseMiddleware):
    """X-Query-Count: the SQL statements a request ran (benchmarks/http_api.py reads it). Only in
    MIDDLEWARE with QUERY_COUNT_HEADER=1, never by default: it tells a client about the server's
    internals. The count lives in a context variable holding a list, so statements run by the
    view in asgiref's worker thread (which gets a copy of this context) add to the same list;
    each connection gets the counting wrapper once, when it opens."""

    def __init__(self, get_response):
        from django.db import connections
        from django.db.backends.signals import connection_created

        super().__init__(get_response)
        connection_created.connect(_install_query_counter, dispatch_uid="tutorhub-query-count")
        for connection in connections.all(initialized_only=True):
            _install_query_counter(None, connection)

    def before(self, request):
        request._query_count_token = _query_count.set([0])
        return None

    def after(self, request, response):
        response["X-Query-Count"] = str(_query_count.get()[0])
        _query_count.reset(request._query_count_token)
        return response
