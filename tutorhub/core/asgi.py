"""Django's ASGI handler with the middleware chain and the view run in one hop to the sync thread.

Django's own ASGIHandler builds an async middleware chain. Every MiddlewareMixin middleware in it
(security, sessions, common, CSRF, auth, messages, clickjacking) then runs its process_request and
process_response through sync_to_async, WhiteNoise (sync only) needs an async_to_sync back, and
the view needs one more hop: ~14 handoffs between the event loop and the sync thread per request.
Measured with benchmarks/http_api.py, that was more than half of the server CPU of a small
response. Here the chain is built in sync mode, exactly as under WSGI, and the ASGI
handler calls it with a single sync_to_async per request. The event loop is never blocked: the
whole chain runs on asgiref's sync thread, where the sync views ran anyway. An async view (readyz)
still works: the sync chain calls it through async_to_sync, on this same event loop.
"""

from __future__ import annotations

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class SyncChainASGIHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_asgi_application() -> SyncChainASGIHandler:
    """django.core.asgi.get_asgi_application with this handler."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
