from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

DOWN = "unreachable"
# Blocking checks run here, not on the loop's default executor: a check stuck past its timeout
# holds one of these threads and nothing else (a pool this small also caps what a hung
# dependency plus frequent probes can pile up).
_CHECKS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="readyz")


@require_GET
def healthz(request):
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok"})


def _database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()  # this runs on a pool thread: keep no connection there


def _cache() -> None:
    key, value = f"readyz:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    if cache.get(key) != value:
        raise RuntimeError("the cache did not return what was stored")
    cache.delete(key)


async def _channel_layer() -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    channel = await layer.new_channel("readyz.")
    nonce = uuid.uuid4().hex
    await layer.send(channel, {"type": "readyz.ping", "nonce": nonce})
    if (await layer.receive(channel)).get("nonce") != nonce:
        raise RuntimeError("the channel layer returned another message")


# Dependencies owned by apps above core (the vector store is tutorhub.ai's): each registers its
# check from its AppConfig.ready, since core imports no app above it.
_registered_checks: dict[str, Callable[[], object]] = {}


def readiness_check_register(name: str, check: Callable[[], object]) -> None:
    """Make /readyz report `name`: down (503) when `check` raises or outlasts the timeout.
    A coroutine function runs on the loop; anything else on a pool thread."""
    _registered_checks[name] = check


def _worker() -> dict:
    from tutorhub.core.task_leases import queue_status

    try:
        return queue_status()
    finally:
        connection.close()


async def _check(name: str, check) -> tuple[str, object]:
    if asyncio.iscoroutinefunction(check):
        call = check()
    else:
        call = asyncio.get_running_loop().run_in_executor(_CHECKS, copy_context().run, check)
    try:
        return name, await asyncio.wait_for(call, timeout=settings.READYZ_CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # timeouts and any client error mean "not ready", never a 500
        logger.warning("readyz: %s is down: %s: %s", name, type(exc).__name__, exc)
        return name, exc


def _worker_state(queue: dict) -> tuple[str, bool]:
    """("ok" | "idle" | "stale" | "stalled", blocks readiness). A worker that stopped beating
    only blocks readiness once tasks wait on it: "stalled" is work queued for over
    READYZ_QUEUE_STALL_SECONDS with no heartbeat in that time. A stale heartbeat with an empty
    queue is a warning ("stale"): the API still serves, nothing is waiting."""
    beat, oldest = queue["worker_heartbeat_age_seconds"], queue["oldest_queued_task_age_seconds"]
    limit = settings.READYZ_QUEUE_STALL_SECONDS
    beating = beat is not None and beat <= max(limit, settings.TASK_LEASE_SECONDS)
    if oldest is not None and oldest > limit and not beating:
        return "stalled", True
    if beat is None:
        return "idle", False  # no worker has run yet, nothing has waited long
    return ("ok" if beating else "stale"), False


@require_GET
async def readyz(request):
    """Readiness: every dependency this process uses answers within a short timeout (checked
    in parallel). 503 when the database, cache, channel layer or vector store is down, or when
    queued tasks stall with no live worker (see _worker_state). One key per dependency."""
    from tutorhub.core.task_leases import uses_database_queue

    checks = {"database": _database, "cache": _cache, "channel_layer": _channel_layer, **_registered_checks}
    if uses_database_queue():
        checks["worker"] = _worker
    results = dict(await asyncio.gather(*(_check(name, check) for name, check in checks.items())))
    body: dict = {}
    ready = True
    for name, result in results.items():
        if isinstance(result, Exception):
            body[name] = DOWN
            ready = False
        elif name == "worker":
            state, blocking = _worker_state(result)
            body[name] = {"status": state, **result}
            ready = ready and not blocking
        else:
            body[name] = "ok"
    return JsonResponse({"status": "ok" if ready else "unavailable", **body}, status=200 if ready else 503)
