"""Base class for the project's WebSocket consumers."""

from __future__ import annotations

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer


class JsonConsumer(AsyncJsonWebsocketConsumer):
    """AsyncJsonWebsocketConsumer without Channels' per-message trip to the database thread.

    Channels' `dispatch` first runs close_old_connections on the single database thread for
    every incoming frame and channel-layer event. Our consumers touch the database only
    through database_sync_to_async, which closes stale connections around each call itself,
    so that trip did nothing but queue each chat message behind other users' database work
    (it was most of the p95 time to first token under load; benchmarks/chat_stream.py).
    """

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
