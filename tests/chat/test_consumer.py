"""ws/chat/ through Channels' WebsocketCommunicator, over the full ASGI application (auth included)."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import RefreshToken

from tutorhub.asgi import application
from tutorhub.billing.models import UsageRecord
from tutorhub.chat.models import ChatSession, Message

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def _token(user) -> str:
    return str(RefreshToken.for_user(user).access_token)


async def connect(user=None, query: str = "") -> WebsocketCommunicator:
    path = "/ws/chat/"
    params = [f"token={await _token(user)}"] if user else []
    if query:
        params.append(query)
    communicator = WebsocketCommunicator(application, path + ("?" + "&".join(params) if params else ""))
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def converse(communicator, payload: dict, timeout: float = 5) -> tuple[list[dict], dict]:
    """Send one message; collect events until the final (or error) event."""
    await communicator.send_json_to(payload)
    events = []
    while True:
        event = await communicator.receive_json_from(timeout=timeout)
        events.append(event)
        if event.get("type") in ("final", "error"):
            return events[:-1], event


@database_sync_to_async
def messages_of(session_id):
    return list(Message.objects.filter(session_id=session_id).order_by("created_at").values("role", "content", "is_complete"))


async def test_anonymous_and_bad_tokens_are_refused():
    communicator = WebsocketCommunicator(application, "/ws/chat/")
    connected, _ = await communicator.connect()
    assert not connected
    communicator = WebsocketCommunicator(application, "/ws/chat/?token=not-a-jwt")
    connected, _ = await communicator.connect()
    assert not connected


async def test_streams_partials_then_final_with_citations(user, chat_session, add_document):
    await database_sync_to_async(add_document)(
        user=user, title="Biology notes", content="Photosynthesis happens in the chloroplasts of plant cells."
    )
    communicator = await connect(user)
    sid = str(chat_session.pk)
    events, final = await converse(communicator, {"message": "Where does photosynthesis happen?", "session_id": sid})
    assert events[0] == {"type": "status", "value": "typing", "session_id": sid}
    partials = [e for e in events if e["type"] == "partial"]
    assert len(partials) >= 2 and all(p["session_id"] == sid for p in partials)
    assert final["type"] == "final" and final["session_id"] == sid
    assert final["reply"] == "".join(p["text"] for p in partials)
    assert "chloroplasts" in final["reply"] and final["model"] == "tutorhub-offline-chat"
    assert final["citations"][0]["document_title"] == "Biology notes"
    assert "audio_b64" not in final
    stored = await messages_of(sid)
    assert [(m["role"], m["is_complete"]) for m in stored] == [("user", True), ("assistant", True)]
    assert stored[1]["content"] == final["reply"]
    await communicator.disconnect()


async def test_without_session_id_a_session_is_created_and_reused(user):
    communicator = await connect(user)
    _, first = await converse(communicator, {"message": "Hello there"})
    _, second = await converse(communicator, {"message": "And again"})
    assert first["session_id"] == second["session_id"]
    session = await database_sync_to_async(ChatSession.objects.get)(pk=first["session_id"])
    assert session.owner_id == user.pk and session.title == "Hello there"
    await communicator.disconnect()


async def test_session_id_from_the_query_string(user, chat_session):
    communicator = await connect(user, f"session_id={chat_session.pk}")
    _, final = await converse(communicator, {"message": "Hi"})
    assert final["session_id"] == str(chat_session.pk)
    await communicator.disconnect()


async def test_other_users_sessions_are_refused(user, other_user, chat_session):
    communicator = await connect(other_user, f"session_id={chat_session.pk}")
    error = await communicator.receive_json_from()
    assert error["error"] == "Chat session not found." and error["session_id"] == str(chat_session.pk)
    _, error = await converse(communicator, {"message": "let me in", "session_id": str(chat_session.pk)})
    assert error["type"] == "error" and error["error_code"] == "RESOURCE_NOT_FOUND"
    assert await messages_of(chat_session.pk) == []
    await communicator.disconnect()


async def test_bad_input_gets_error_events_and_the_socket_stays_usable(user):
    communicator = await connect(user)
    await communicator.send_to(text_data="{not json")
    assert (await communicator.receive_json_from())["error_code"] == "MALFORMED_REQUEST"
    await communicator.send_to(text_data="[1, 2]")
    assert (await communicator.receive_json_from())["error_code"] == "MALFORMED_REQUEST"
    _, error = await converse(communicator, {"message": "   "})
    assert error["error_code"] == "VALIDATION_ERROR"
    _, error = await converse(communicator, {"message": "x" * 10_001})
    assert error["error_code"] == "VALIDATION_ERROR"
    _, error = await converse(communicator, {"message": "hi", "session_id": "not-a-uuid"})
    assert error["error_code"] == "RESOURCE_NOT_FOUND"
    _, final = await converse(communicator, {"message": "hi"})
    assert final["type"] == "final"
    await communicator.disconnect()


async def test_tts_adds_a_real_wav(user, chat_session):
    communicator = await connect(user)
    _, final = await converse(communicator, {"message": "Hello", "session_id": str(chat_session.pk), "tts": True})
    audio = base64.b64decode(final["audio_b64"])
    assert final["content_type"] == "audio/wav" and audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    await communicator.disconnect()


async def test_openai_backend_streams_tokens_as_they_arrive(user, chat_session, fake_openai):
    fake_openai.token_delay = 0.25
    fake_openai.push(text="one two three four five")
    communicator = await connect(user)
    await communicator.send_json_to({"message": "count", "session_id": str(chat_session.pk)})
    started = time.perf_counter()
    assert (await communicator.receive_json_from())["value"] == "typing"
    first = await communicator.receive_json_from(timeout=5)
    first_at = time.perf_counter() - started
    events = [first]
    while events[-1]["type"] != "final":
        events.append(await communicator.receive_json_from(timeout=5))
    done_at = time.perf_counter() - started
    assert first == {"type": "partial", "text": "one ", "session_id": str(chat_session.pk)}
    # Not buffered: the first piece arrived while the upstream was still producing the other four.
    assert done_at - first_at > 0.5  # the upstream spreads its five pieces over a second
    assert events[-1]["reply"] == "one two three four five" and events[-1]["model"] == "fake-gpt"
    assert len([e for e in events if e["type"] == "partial"]) == 5
    assert await database_sync_to_async(UsageRecord.objects.filter(user=user, feature="chat").exists)()
    await communicator.disconnect()




async def test_question_is_stored_while_the_model_answers(user, chat_session, fake_openai):
    """The question is written while the model answers (not before the request goes out), so
    it is in the history before the answer is done, and stays whatever happens to the answer."""
    fake_openai.token_delay = 0.5
    fake_openai.push(text="one two three")
    sid = str(chat_session.pk)
    communicator = await connect(user)
    await communicator.send_json_to({"message": "count to three", "session_id": sid})
    # The first paid turn in a process imports the openai SDK (seconds on a loaded machine).
    assert (await communicator.receive_json_from(timeout=10))["value"] == "typing"
    assert (await communicator.receive_json_from(timeout=5))["type"] == "partial"
    deadline = time.monotonic() + 0.5  # the two other pieces take another second
    while not await messages_of(sid) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert await messages_of(sid) == [{"role": "user", "content": "count to three", "is_complete": True}]
    while (await communicator.receive_json_from(timeout=5))["type"] != "final":
        pass
    assert [m["role"] for m in await messages_of(sid)] == ["user", "assistant"]
    await communicator.disconnect()


async def test_a_turn_settles_its_quota_and_frames_skip_the_database_thread(user, chat_session, fake_openai, monkeypatch):
    """Usage is written with the answer and settles the turn's quota reservation; incoming
    frames reach the handler without Channels' close_old_connections trip (JsonConsumer)."""
    import channels.consumer

    from tutorhub.billing.models import QuotaReservation

    trips = []

    async def counted():
        trips.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    fake_openai.push(text="Limits describe approach.")
    communicator = await connect(user)
    _, final = await converse(communicator, {"message": "limits?", "session_id": str(chat_session.pk)})
    assert final["type"] == "final" and final["reply"] == "Limits describe approach."
    assert trips == []
    records = await database_sync_to_async(list)(UsageRecord.objects.filter(user=user).values_list("feature", "model"))
    assert ("chat", "fake-gpt") in records  # the completion (the query's embedding is recorded too)
    assert not await database_sync_to_async(QuotaReservation.objects.filter(user=user).exists)()
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("script", "partial_text", "code"),
    [
        ({"status": 500}, "", "SERVICE_UNAVAILABLE"),
        ({"delay": 1.0}, "", "UPSTREAM_TIMEOUT"),
        # A cut stream is transient: retrying may succeed.
        ({"text": "alpha beta gamma delta", "drop_after": 2}, "alpha beta ", "SERVICE_UNAVAILABLE"),
    ],
    ids=["http-500", "timeout", "dropped-stream"],
)
async def test_upstream_faults(user, chat_session, short_timeout, script, partial_text, code):
    short_timeout.push(**script)
    sid = str(chat_session.pk)
    communicator = await connect(user)
    events, error = await converse(communicator, {"message": "Explain limits", "session_id": sid})
    assert error["type"] == "error" and error["session_id"] == sid and error["error_code"] == code
    assert "saved" in error["error"] and error["message_id"]
    assert "".join(e["text"] for e in events if e["type"] == "partial") == partial_text
    stored = await messages_of(sid)
    assert stored[0] == {"role": "user", "content": "Explain limits", "is_complete": True}
    assert stored[1] == {"role": "assistant", "content": partial_text, "is_complete": False}

    short_timeout.push(text="Limits describe approach.")
    _, final = await converse(communicator, {"message": "Try again", "session_id": sid})
    assert final["type"] == "final" and final["reply"] == "Limits describe approach."
    await communicator.disconnect()


async def test_quota_exceeded_is_an_error_event(user, chat_session, fake_openai):
    # A paid model (the fake OpenAI-compatible server): offline answers are free and never refused.
    from tutorhub.billing.services import usage_record

    await database_sync_to_async(usage_record)(user=user, kind="ai_tokens", amount=10_000_000, feature="test")
    communicator = await connect(user)
    _, error = await converse(communicator, {"message": "hi", "session_id": str(chat_session.pk)})
    assert error["error_code"] == "QUOTA_EXCEEDED" and "limit" in error["error"]
    assert await messages_of(chat_session.pk) == []
    await communicator.disconnect()
