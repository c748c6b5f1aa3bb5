"""A channel layer for the default (no Redis) stack whose group messages cross processes.

The default stack runs the ASGI server, the task worker and the scheduler as separate
processes (`manage.py runall`). Channels' InMemoryChannelLayer lives inside one process, so a
notification or progress event raised in the worker never reached a socket held by the
server. Choices considered:

- an outbox table that the server tails and re-publishes: needs every publisher to know it
  is not the server, and a second code path beside `group_send`;
- a full database channel layer (every channel message through a table): puts each chat
  token of the server's own sockets through the database;
- this: the in-memory layer, plus a table for group messages only. `group_send` delivers to
  this process's members at once (no database on that path's latency) and appends the
  message to `ChannelLayerMessage`; each process that has group members (the server
  processes: only consumers call `group_add`) polls the table every `poll_interval` seconds
  (0.25 s) and delivers other processes' messages to its local members. Callers keep using
  `get_channel_layer().group_send(...)`, so the same code works on channels-redis, which
  stays the production path when REDIS_URL is set.

The row is written in the caller's thread and transaction (sync_to_async thread_sensitive):
a group_send made inside a transaction that rolls back is not published to other processes.
Delivery is at most once per process; rows older than `retention` seconds are deleted (a
message is live news, not a queue). Per-channel `send` stays process-local, as in
InMemoryChannelLayer: it is only used for channels of this process.

The poll reads rows newer than the previous poll minus `overlap` seconds, and skips ids it
has already delivered: a row whose transaction committed after a later id was read (possible
on PostgreSQL) is still seen. This relies on the processes sharing a clock (one host, the
default stack's shape).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from tutorhub.core.backoff import Backoff

logger = logging.getLogger(__name__)

FETCH_LIMIT = 500
CLEANUP_EVERY = 30.0  # seconds between deletions of expired rows


def _close_connection() -> None:
    connection.close()  # looked up here, in the poller thread: that thread's connection


class DatabaseChannelLayer(InMemoryChannelLayer):
    def __init__(self, poll_interval: float = 0.25, retention: float = 60.0, overlap: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.poll_interval = poll_interval
        self.retention = timedelta(seconds=retention)
        self.overlap = timedelta(seconds=overlap)
        self.origin = uuid.uuid4().hex  # this process's rows, which its own poller skips
        self._poller: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._watermark = None
        self._delivered: dict[int, object] = {}  # row id -> created_at, within the overlap window
        self._last_cleanup = 0.0

    # --- publishing ------------------------------------------------------------------------
    async def group_send(self, group, message):
        await super().group_send(group, message)  # this process's sockets, at once
        await sync_to_async(self._publish, thread_sensitive=True)(group, message)

    def _publish(self, group: str, message: dict) -> None:
        from tutorhub.core.models import ChannelLayerMessage

        ChannelLayerMessage.objects.create(
            created_at=timezone.now(), origin=self.origin, group=group,
            message=json.loads(json.dumps(message, cls=DjangoJSONEncoder)),
        )

    # --- receiving -------------------------------------------------------------------------
    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        self._ensure_poller()

    def _ensure_poller(self) -> None:
        loop = asyncio.get_running_loop()
        if self._poller is not None and not self._poller.done() and self._poller.get_loop() is loop:
            return
        if self._executor is None:
            # One thread, one database connection, used for nothing but polling.
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="channels-db")
        self._poller = loop.create_task(self._poll_forever(), name="channels-db-poller")

    async def _poll_forever(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = Backoff(initial=self.poll_interval, maximum=10.0)
        if self._watermark is None:
            self._watermark = timezone.now()  # live news only: no replay of older rows
        while True:
            await asyncio.sleep(self.poll_interval)
            if not self.groups:
                self._watermark = timezone.now()  # nobody listens: skip what passes meanwhile
                continue
            try:
                rows = await loop.run_in_executor(self._executor, self._fetch)
            except Exception as exc:  # a database outage: keep serving local sockets, retry
                delay = backoff.failed()
                logger.warning("Channel layer poll failed (%s: %s); retrying in %.1f s", type(exc).__name__, exc, delay)
                await loop.run_in_executor(self._executor, _close_connection)
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            for group, message in rows:
                if group in self.groups:
                    await super().group_send(group, message)

    def _fetch(self) -> list[tuple[str, dict]]:
        from tutorhub.core.models import ChannelLayerMessage

        started = timezone.now()
        rows = list(
            ChannelLayerMessage.objects.filter(created_at__gte=self._watermark - self.overlap)
            .exclude(origin=self.origin)
            .order_by("id")
            .values_list("id", "created_at", "group", "message")[:FETCH_LIMIT]
        )
        fresh = [(group, message) for pk, _, group, message in rows if pk not in self._delivered]
        for pk, created_at, _, _ in rows:
            self._delivered[pk] = created_at
        self._watermark = started if len(rows) < FETCH_LIMIT else rows[-1][1]
        horizon = self._watermark - self.overlap
        self._delivered = {pk: at for pk, at in self._delivered.items() if at >= horizon}
        if started.timestamp() - self._last_cleanup >= CLEANUP_EVERY:
            self._last_cleanup = started.timestamp()
            ChannelLayerMessage.objects.filter(created_at__lt=started - self.retention).delete()
        return fresh

    async def flush(self):
        await super().flush()
        self._delivered = {}

    async def close(self):
        """Stop polling and close the poller thread's database connection."""
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        if self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, _close_connection)
            self._executor.shutdown(wait=False)
            self._executor = None
