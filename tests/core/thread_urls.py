"""A test-only urlconf for tests/core/test_request_threads.py: views that report the thread and
database connection they ran on, leave a transaction open, or hold their thread until told."""

from __future__ import annotations

import asyncio
import threading
import time

from django.db import connection, transaction
from django.http import JsonResponse, StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from tutorhub.core.models import ChannelLayerMessage

release = threading.Event()  # /hold/ returns once this is set (or after 10 s)
LEFT_OPEN_GROUP = "left-open-by-a-view"


@csrf_exempt  # a POST from the tests, which send no CSRF token
def where(request):
    with connection.cursor() as cursor:  # make sure this thread has a connection
        cursor.execute("SELECT 1")
    return JsonResponse({
        "thread": threading.get_ident(),
        "connection": id(connection.connection),
        "body": len(request.body),
    })


def leave_open(request):
    """Writes a row in a transaction it never commits, as a buggy view could."""
    transaction.set_autocommit(False)
    ChannelLayerMessage.objects.create(created_at=timezone.now(), origin="test", group=LEFT_OPEN_GROUP, message={})
    return JsonResponse({"thread": threading.get_ident()})


def hold(request):
    release.wait(10)
    return JsonResponse({"thread": threading.get_ident()})


running = {"now": 0, "most": 0}  # /busy/'s concurrency
running_lock = threading.Lock()


def busy(request):
    """Runs for 50 ms, counting how many run at once."""
    with running_lock:
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
    time.sleep(0.05)
    with running_lock:
        running["now"] -= 1
    return JsonResponse({"thread": threading.get_ident()})


streamed: list[str] = []  # what /stream/'s generator did, in order


def stream(request):
    """Three parts; with ?endless=1 parts until the client leaves (an async iterator: Django reads
    a sync one whole before sending). Records each part and its own closing."""

    def parts():
        try:
            for n in range(3):
                streamed.append(f"part {n}")
                yield f"part {n};".encode()
        finally:
            streamed.append("closed")

    async def endless():
        try:
            for n in range(10_000):
                streamed.append(f"part {n}")
                yield f"part {n};".encode()
                await asyncio.sleep(0.01)
        finally:
            streamed.append("closed")

    return StreamingHttpResponse(endless() if request.GET.get("endless") else parts(), content_type="text/plain")


urlpatterns = [
    path("stream/", stream),
    path("busy/", busy),
    path("where/", where),
    path("leave-open/", leave_open),
    path("hold/", hold),
]
