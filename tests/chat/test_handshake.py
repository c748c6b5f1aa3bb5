"""WebSocket handshakes authenticate off Channels' single database thread: there
they queued behind every chat turn's preparation and timed out under load. Here that thread
is held busy (as a long turn preparation would hold it) while sockets connect."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from tutorhub.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def _credentials(user) -> tuple[str, str]:
    client = Client()
    client.force_login(user)
    return str(RefreshToken.for_user(user).access_token), client.cookies[settings.SESSION_COOKIE_NAME].value


async def _connects(path: str, headers=None) -> bool:
    communicator = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await asyncio.wait_for(communicator.connect(timeout=5), timeout=6)
    # Refused sockets too: their consumer is still running (its channel-layer receive pending);
    # left for the loop's close to cancel, a Redis receive held the test's teardown (CI hung).
    await communicator.disconnect()
    return connected


async def test_handshakes_do_not_wait_for_the_database_thread(user):
    token, session_key = await _credentials(user)
    release = threading.Event()
    busy = SyncToAsync.single_thread_executor.submit(release.wait, 20)
    try:
        assert await _connects(f"/ws/chat/?token={token}")
        cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}".encode()
        assert await _connects("/ws/chat/", [(b"cookie", cookie), (b"host", b"testserver"), (b"origin", b"http://testserver")])
        # Still refused without credentials, and a cookie from another site's page is not trusted.
        assert not await _connects("/ws/chat/?token=not-a-jwt")
        assert not await _connects("/ws/chat/", [(b"cookie", cookie), (b"host", b"testserver"), (b"origin", b"http://evil.example")])
        assert not busy.done()  # all of it while the database thread was held
    finally:
        release.set()
        busy.result(timeout=20)
