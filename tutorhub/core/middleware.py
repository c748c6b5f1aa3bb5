"""Request ids (X-Request-ID on every response, same as the error body's request_id) and
rate-limit headers recorded by the throttles."""

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
        if iscoroutinefunction(get_response):
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
        if iscoroutinefunction(self):
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
