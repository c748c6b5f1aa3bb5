"""Issue 11: ws/chat/ skipped the AI-generation rate limit (REST answered 429 at message 51;
30 more answers came over the WebSocket). Both now count against one counter per user."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache

from tests.chat.test_consumer import connect, converse
from tutorhub.chat import services

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ai_limit_3(settings):
    settings.THROTTLING_ENABLED = True
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "ai_generation": "3/hour"}}
    cache.clear()
    yield
    cache.clear()


def _completions(server) -> int:
    return len([r for r in server.requests if r[0].endswith("/chat/completions")])


async def test_ws_and_rest_share_the_ai_generation_limit(user, api_client, fake_openai, ai_limit_3):
    session = await database_sync_to_async(services.chat_session_create)(user=user, title="Limits")
    send = database_sync_to_async(lambda: api_client.post(
        f"/api/v1/chat/chats/{session.pk}/send_message/", {"content": "over REST"}))
    assert (await send()).status_code == 201
    assert (await send()).status_code == 201

    communicator = await connect(user)
    _, final = await converse(communicator, {"message": "third, over the socket", "session_id": str(session.pk)})
    assert final["type"] == "final"
    calls = _completions(fake_openai)

    _, error = await converse(communicator, {"message": "fourth", "session_id": str(session.pk)})
    assert error["type"] == "error" and error["error_code"] == "RATE_LIMITED"
    assert 0 < error["retry_after"] <= 3600 and error["session_id"] == str(session.pk)
    assert _completions(fake_openai) == calls  # no model call for a refused message
    # The socket stays usable and REST sees the same counter.
    response = await send()
    assert response.status_code == 429 and response.json()["error_code"] == "RATE_LIMIT_EXCEEDED"
    await communicator.disconnect()


async def test_ws_limit_is_per_user(user, other_user, fake_openai, ai_limit_3):
    first = await connect(user)
    for n in range(3):
        _, final = await converse(first, {"message": f"question {n}"})
        assert final["type"] == "final"
    _, error = await converse(first, {"message": "one too many"})
    assert error["error_code"] == "RATE_LIMITED"
    second = await connect(other_user)
    _, final = await converse(second, {"message": "my first"})
    assert final["type"] == "final"
    await first.disconnect()
    await second.disconnect()
