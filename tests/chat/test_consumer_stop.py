"""ws/chat/'s stop, one-turn-at-a-time and replace-last frames (issue 14 item 1), through the
full ASGI application, with the offline tutor streaming at a model's pace."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from tests.chat.conftest import PHOTOSYNTHESIS
from tests.chat.test_consumer import connect, converse, messages_of
from tutorhub.billing.models import UsageRecord
from tutorhub.chat.models import ChatSession, Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def slow_offline(settings):
    """The offline tutor with 0.1 s between pieces: a stop lands mid-answer."""
    settings.LLM_BACKENDS = {
        "default": {"BACKEND": "tutorhub.ai.backends.offline.OfflineLLM", "OPTIONS": {"stream_delay": 0.1}}
    }


@database_sync_to_async
def _chat_tokens_charged(user) -> int:
    return sum(UsageRecord.objects.filter(user=user, feature="chat", kind="ai_tokens").values_list("amount", flat=True))


async def _until_final(communicator, timeout: float = 10) -> tuple[list[dict], dict]:
    events = []
    while True:
        event = await communicator.receive_json_from(timeout=timeout)
        if event.get("type") == "final":
            return events, event
        events.append(event)


async def test_stop_keeps_the_partial_answer_marked_incomplete_and_charges_what_was_generated(
    user, add_document, slow_offline
):
    await database_sync_to_async(add_document)(user=user, title="Biology notes", content=PHOTOSYNTHESIS * 3)
    communicator = await connect(user)
    await communicator.send_json_to({"message": "Explain photosynthesis and respiration in detail"})
    events = [await communicator.receive_json_from(timeout=10)]
    while events[-1]["type"] != "partial":
        events.append(await communicator.receive_json_from(timeout=10))
    await communicator.send_json_to({"type": "stop"})
    more, final = await _until_final(communicator)
    partials = [e["text"] for e in events + more if e["type"] == "partial"]
    assert final["stopped"] is True and final["is_complete"] is False
    assert final["reply"] == "".join(partials) and final["message_id"]
    assert final["session_title"] == "Explain photosynthesis and respiration in detail"

    sid = final["session_id"]
    stored = await messages_of(sid)
    assert [(m["role"], m["is_complete"]) for m in stored] == [("user", True), ("assistant", False)]
    assert stored[1]["content"] == final["reply"]
    answer = await database_sync_to_async(Message.objects.get)(pk=final["message_id"])
    assert answer.context_used["stopped"] is True

    stopped_charge = await _chat_tokens_charged(user)

    # Regenerate (replace_last): the same question answered in full, in place of the stopped one.
    _, full = await converse(
        communicator, {"message": "Explain photosynthesis and respiration in detail", "replace_last": True}, timeout=30
    )
    assert full["session_id"] == sid and full["is_complete"] is True and full["stopped"] is False
    assert len(full["reply"]) > len(final["reply"]) and full["reply"].startswith(final["reply"])
    assert [(m["role"], m["is_complete"]) for m in await messages_of(sid)] == [("user", True), ("assistant", True)]
    # Only what was generated before the stop was charged: less than the whole answer costs.
    assert 0 < stopped_charge < await _chat_tokens_charged(user) - stopped_charge
    await communicator.disconnect()


async def test_a_second_message_while_streaming_is_refused_and_the_first_goes_on(user, slow_offline, add_document):
    await database_sync_to_async(add_document)(user=user, title="Biology notes", content=PHOTOSYNTHESIS)
    communicator = await connect(user)
    await communicator.send_json_to({"message": "What is photosynthesis?"})
    first = await communicator.receive_json_from(timeout=10)
    assert first["value"] == "typing"
    await communicator.send_json_to({"message": "Another one", "session_id": first["session_id"]})
    events, final = await _until_final(communicator)
    errors = [e for e in events if e["type"] == "error"]
    assert [e["error_code"] for e in errors] == ["CONFLICT"]
    assert final["is_complete"] is True and final["stopped"] is False
    assert [m["content"] for m in await messages_of(final["session_id"]) if m["role"] == "user"] == [
        "What is photosynthesis?"
    ]
    await communicator.disconnect()


async def test_a_stop_with_nothing_streaming_is_ignored(user):
    communicator = await connect(user)
    await communicator.send_json_to({"type": "stop"})
    _, final = await converse(communicator, {"message": "Hello"})
    assert final["type"] == "final" and final["is_complete"] is True
    await communicator.disconnect()


async def test_replace_last_answers_again_in_place_of_the_last_exchange(user, chat_session):
    communicator = await connect(user)
    sid = str(chat_session.pk)
    await converse(communicator, {"message": "First question", "session_id": sid})
    await converse(communicator, {"message": "Second question", "session_id": sid})
    _, final = await converse(
        communicator, {"message": "Second question, edited", "session_id": sid, "replace_last": True}
    )
    assert final["is_complete"] is True
    stored = await messages_of(sid)
    assert [(m["role"], m["content"]) for m in stored if m["role"] == "user"] == [
        ("user", "First question"),
        ("user", "Second question, edited"),
    ]
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"]
    # The chat keeps the title it had (from its first question).
    title = await database_sync_to_async(lambda: ChatSession.objects.get(pk=sid).title)()
    assert final["session_title"] == title
    await communicator.disconnect()
