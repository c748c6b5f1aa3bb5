"""Upstream and database faults: a clear error soon (an envelope over REST, an error frame over
ws/chat/), the user's message kept, a partial answer marked incomplete, the quota given back,
and the next message works."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError
from django.utils import timezone

from tests.chat.test_consumer import connect, converse, messages_of
from tests.fakes.openai_server import closed_port_url, use_openai_llm
from tutorhub.billing.models import QuotaReservation, UsageRecord
from tutorhub.chat import durability
from tutorhub.chat.models import Message
from tutorhub.chat.services import tutor

pytestmark = pytest.mark.django_db




def _send(client, session, content="What is a derivative?"):
    return client.post(f"/api/v1/chat/chats/{session.pk}/send_message/", {"content": content})


@pytest.mark.parametrize(
    ("script", "status", "code"),
    [({"status": 500}, 503, "SERVICE_UNAVAILABLE"), ({"status": 400}, 502, "UPSTREAM_ERROR"),
     ({"delay": 1.0}, 504, "UPSTREAM_TIMEOUT")],
)
def test_upstream_failure_gives_an_envelope_and_keeps_the_question(api_client, chat_session, short_timeout, script,
                                                                   status, code):
    short_timeout.push(**script)
    response = _send(api_client, chat_session)
    assert response.status_code == status
    body = response.json()
    assert body["error_code"] == code and "saved" in body["detail"] and body["request_id"]
    assert "fake upstream" not in body["detail"]
    question, partial = Message.objects.filter(session=chat_session).order_by("created_at")
    assert question.role == "user" and question.content == "What is a derivative?"
    assert partial.role == "assistant" and partial.is_complete is False and partial.reply_to_id == question.pk
    assert "error" in partial.context_used

    # The next message works, and the failed turn stays out of the prompt's history.
    short_timeout.push(text="A derivative is a rate of change.")
    ok = _send(api_client, chat_session, "Try again please")
    assert ok.status_code == 201 and ok.json()["ai_response"]["content"] == "A derivative is a rate of change."
    sent = short_timeout.requests[-1][1]["messages"]
    assert all(m["content"] != "" for m in sent if m["role"] == "assistant")


def test_seed_003_and_004_paths_report_upstream_failure_too(api_client, chat_session, short_timeout):
    short_timeout.push(status=503)
    response = api_client.post("/api/v1/chat/", {"message": "hello"})
    assert response.status_code == 503 and response.json()["error_code"] == "SERVICE_UNAVAILABLE"
    short_timeout.push(status=502)
    response = api_client.post(f"/api/v1/chat/sessions/{chat_session.pk}/chats/", {"message": "hello"})
    assert response.status_code == 503
    assert Message.objects.filter(role="user").count() == 2


def test_quota_is_checked_before_any_ai_work(api_client, user, chat_session, fake_openai):
    from tutorhub.billing.services import usage_record

    usage_record(user=user, kind="ai_tokens", amount=10_000_000, feature="test")
    response = _send(api_client, chat_session)
    assert response.status_code == 429 and response.json()["error_code"] == "QUOTA_EXCEEDED"
    assert not Message.objects.exists()
    assert not [r for r in fake_openai.requests if r[0].endswith(("/chat/completions", "/embeddings"))]


# --- REST: deadlines, Retry-After, unavailable, quota -------------------------------------
def test_upstream_rate_limit_is_immediate_and_passes_retry_after(api_client, chat_session, fake_openai, settings):
    use_openai_llm(settings, fake_openai, timeout=60.0, max_retries=2)
    fake_openai.push(status=429, retry_after=120)
    started = time.monotonic()
    response = _send(api_client, chat_session)
    assert time.monotonic() - started < 5.0  # not slept on (the provider asked for 120 s)
    assert response.status_code == 503 and response["Retry-After"] == "120"
    assert response.json()["error_code"] == "UPSTREAM_RATE_LIMITED"
    assert response.json()["details"]["retry_after_seconds"] == 120
    assert Message.objects.filter(session=chat_session, role="user").count() == 1


def test_upstream_refusing_connections_is_unavailable(api_client, chat_session, settings):
    settings.LLM_BACKENDS = {"default": {"BACKEND": "tutorhub.ai.backends.openai.OpenAILLM",
                                         "OPTIONS": {"base_url": closed_port_url(), "model": "m", "max_retries": 0}}}
    response = _send(api_client, chat_session)
    assert response.status_code == 503 and response.json()["error_code"] == "UPSTREAM_UNAVAILABLE"


def test_rest_answer_has_a_total_deadline_whatever_the_retries(api_client, chat_session, fake_openai, settings):
    use_openai_llm(settings, fake_openai, timeout=60.0, max_retries=2, total_timeout=1.0)
    for _ in range(3):
        fake_openai.push(delay=3.0)
    started = time.monotonic()
    response = _send(api_client, chat_session)
    assert time.monotonic() - started < 1.0 + 1.0
    assert response.status_code == 504 and response.json()["error_code"] == "UPSTREAM_TIMEOUT"


def test_a_failed_answer_gives_its_quota_back_at_once(api_client, user, chat_session, short_timeout):
    """Before, each failure held ~2,300 tokens for 5 minutes: a user near the limit was
    locked out by one failure. Now the next message right after a failure fits."""
    from tutorhub.billing.selectors import subscription_current
    from tutorhub.billing.services import usage_record

    _, plan, _, _ = subscription_current(user=user)
    turn_estimate = tutor.HISTORY_TOKEN_BUDGET + tutor.MAX_REPLY_TOKENS + 10
    usage_record(user=user, kind="ai_tokens", amount=plan.limit_for("ai_tokens") - turn_estimate - 200, feature="test")
    short_timeout.push(status=500)
    assert _send(api_client, chat_session).status_code == 503
    assert not QuotaReservation.objects.filter(user=user).exists()
    short_timeout.push(text="Fits.")
    assert _send(api_client, chat_session, "again").status_code == 201


@pytest.mark.django_db(transaction=True)  # no test transaction around it: the retry reconnects for real
def test_rest_answer_survives_a_broken_connection(api_client, chat_session, fake_openai, monkeypatch):
    """A kept connection that died (PostgreSQL restarted) fails the first write; the write is
    retried once on a fresh connection."""
    original, calls = tutor._answer_save, []

    def broken_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return original(**kwargs)

    monkeypatch.setattr(tutor, "_answer_save", broken_once)
    fake_openai.push(text="Stored anyway.")
    response = _send(api_client, chat_session)
    assert response.status_code == 201 and len(calls) == 2
    assert Message.objects.get(pk=response.json()["ai_response"]["id"]).content == "Stored anyway."


# --- the unanswered-question sweep (a crash mid-stream) ----------------------------------
def _question(session, *, age: timedelta) -> Message:
    message = Message.objects.create(session=session, role="user", content="lost?", message_type="question")
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - age)
    return message


def test_questions_left_unanswered_by_a_crash_are_marked_incomplete(chat_session):
    from tutorhub.chat.tasks import chat_unanswered_mark

    lost = _question(chat_session, age=timedelta(minutes=10))
    in_progress = _question(chat_session, age=timedelta(seconds=5))  # may still be streaming
    answered = _question(chat_session, age=timedelta(minutes=10))
    Message.objects.create(session=chat_session, role="assistant", content="yes", reply_to=answered)
    assert chat_unanswered_mark.call() == 1
    mark = Message.objects.get(reply_to=lost)
    assert mark.role == "assistant" and mark.is_complete is False and mark.context_used["interrupted"] is True
    assert "interrupted" in mark.context_used["error"]
    assert not Message.objects.filter(reply_to=in_progress).exists()
    assert chat_unanswered_mark.call() == 0  # marked once


def test_a_recovered_answer_replaces_the_interrupted_mark(chat_session):
    question = _question(chat_session, age=timedelta(minutes=10))
    durability.chat_unanswered_mark()
    answer = Message(session=chat_session, role="assistant", content="late but whole", reply_to=question)
    durability.message_save_recovered(message=answer)
    assert list(Message.objects.filter(reply_to=question).values_list("content", flat=True)) == ["late but whole"]


# --- ws/chat/ ----------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_ws_first_token_deadline_sends_status_frames_then_a_clear_error(user, chat_session, fake_openai, settings):
    use_openai_llm(settings, fake_openai, timeout=60.0, max_retries=2, first_token_timeout=1.0)
    settings.CHAT_WAITING_STATUS_SECONDS = 0.3
    fake_openai.push(first_token_delay=5.0)
    sid = str(chat_session.pk)
    communicator = await connect(user)
    started = time.monotonic()
    events, error = await converse(communicator, {"message": "Explain limits", "session_id": sid})
    assert time.monotonic() - started < 1.0 + 1.0
    assert error["error_code"] == "UPSTREAM_TIMEOUT" and error["message_id"]
    waiting = [e for e in events if e.get("value") == "waiting"]
    assert len(waiting) >= 2 and all(e["type"] == "status" and e["elapsed_ms"] > 0 for e in waiting)
    assert waiting == sorted(waiting, key=lambda e: e["elapsed_ms"])
    assert await messages_of(sid) == [
        {"role": "user", "content": "Explain limits", "is_complete": True},
        {"role": "assistant", "content": "", "is_complete": False},
    ]
    fake_openai.push(text="Limits describe approach.")
    _, final = await converse(communicator, {"message": "Try again", "session_id": sid})
    assert final["type"] == "final" and final["reply"] == "Limits describe approach."
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_ws_rate_limited_upstream_error_frame_carries_retry_after(user, chat_session, fake_openai, settings):
    use_openai_llm(settings, fake_openai, timeout=60.0, max_retries=2)
    fake_openai.push(status=429, retry_after=120)
    communicator = await connect(user)
    started = time.monotonic()
    _, error = await converse(communicator, {"message": "hi", "session_id": str(chat_session.pk)})
    assert time.monotonic() - started < 5.0  # not slept on (the provider asked for 120 s)
    assert error["error_code"] == "UPSTREAM_RATE_LIMITED" and error["retry_after"] == 120
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_ws_connection_refused_is_unavailable(user, chat_session, settings):
    settings.LLM_BACKENDS = {"default": {"BACKEND": "tutorhub.ai.backends.openai.OpenAILLM",
                                         "OPTIONS": {"base_url": closed_port_url(), "model": "m", "max_retries": 0}}}
    communicator = await connect(user)
    _, error = await converse(communicator, {"message": "hi", "session_id": str(chat_session.pk)})
    assert error["error_code"] == "UPSTREAM_UNAVAILABLE" and "retry_after" not in error
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_ws_dropped_stream_charges_only_what_was_generated(user, chat_session, short_timeout):
    short_timeout.push(text="alpha beta gamma delta", drop_after=2)
    communicator = await connect(user)
    _, error = await converse(communicator, {"message": "Explain limits", "session_id": str(chat_session.pk)})
    assert error["error_code"] == "SERVICE_UNAVAILABLE"
    charged = await database_sync_to_async(list)(
        UsageRecord.objects.filter(user=user, model="fake-gpt").values_list("amount", flat=True))  # not the embedding
    # The prompt and the two pieces, estimated; far below the turn's reservation.
    assert len(charged) == 1 and 0 < charged[0] < tutor.HISTORY_TOKEN_BUDGET
    assert not await database_sync_to_async(QuotaReservation.objects.filter(user=user).exists)()
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_ws_failure_before_any_piece_charges_nothing_and_releases(user, chat_session, short_timeout):
    short_timeout.push(status=500)
    communicator = await connect(user)
    await converse(communicator, {"message": "hi", "session_id": str(chat_session.pk)})
    assert not await database_sync_to_async(UsageRecord.objects.filter(user=user, model="fake-gpt").exists)()
    assert not await database_sync_to_async(QuotaReservation.objects.filter(user=user).exists)()
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_ws_stale_connection_on_the_writes_thread_is_retried(user, chat_session, fake_openai, monkeypatch):
    """After PostgreSQL comes back, the writes thread's kept connection is dead: the question's
    write fails once, is retried on a fresh connection, and the turn completes and is stored
    (before: the answer streamed, then INTERNAL_ERROR, and nothing was stored)."""
    original, calls = tutor._question_save, []

    def stale_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("terminating connection due to administrator command")
        return original(**kwargs)

    monkeypatch.setattr(tutor, "_question_save", stale_once)
    fake_openai.push(text="Still here.")
    sid = str(chat_session.pk)
    communicator = await connect(user)
    _, final = await converse(communicator, {"message": "after the restart", "session_id": sid})
    assert final["type"] == "final" and final["reply"] == "Still here." and len(calls) == 2
    assert [(m["role"], m["content"]) for m in await messages_of(sid)] == [
        ("user", "after the restart"), ("assistant", "Still here.")]
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_ws_answer_is_kept_in_memory_while_the_database_is_down(user, chat_session, fake_openai, monkeypatch):
    """The answer streamed to the user, then its write failed twice (the database is down):
    it waits in memory with its final id and is stored when the database is back."""
    original = tutor._answer_save
    down = {"on": True}

    def maybe_down(**kwargs):
        if down["on"]:
            raise OperationalError("could not connect to server: Connection refused")
        return original(**kwargs)

    monkeypatch.setattr(tutor, "_answer_save", maybe_down)
    monkeypatch.setattr(durability, "_start_flusher", lambda: None)  # flushed below, by hand
    fake_openai.push(text="Kept in memory.")
    sid = str(chat_session.pk)
    communicator = await connect(user)
    _, final = await converse(communicator, {"message": "during the outage", "session_id": sid})
    assert final["type"] == "final" and final["reply"] == "Kept in memory."
    assert durability.pending_count() == 1
    assert [m["role"] for m in await messages_of(sid)] == ["user"]

    down["on"] = False
    assert await database_sync_to_async(durability.flush_pending)() == 1
    stored = await database_sync_to_async(Message.objects.get)(pk=final["message_id"])
    assert stored.content == "Kept in memory." and stored.is_complete and durability.pending_count() == 0
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_ws_handshake_after_a_database_restart(user, monkeypatch):
    """The first handshake after the database came back met a dead kept connection: 500.
    Its user lookup is retried once on a fresh connection."""
    from tutorhub.core import ws_auth

    original, calls = ws_auth._user_for_token, []

    def stale_once(raw):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return original(raw)

    monkeypatch.setattr(ws_auth, "_user_for_token", stale_once)
    communicator = await connect(user)  # asserts the handshake was accepted
    assert len(calls) == 2
    await communicator.disconnect()


def test_a_lost_connection_inside_a_transaction_is_not_retried():
    from django.db import transaction

    from tutorhub.core.db import call_reconnecting

    calls = []

    def broken():
        calls.append(1)
        raise OperationalError("gone")

    with transaction.atomic(), pytest.raises(OperationalError):
        call_reconnecting(broken)
    assert calls == [1]


def test_queued_writes_go_first_and_in_order_once_the_database_is_back(monkeypatch):
    monkeypatch.setattr(durability, "_start_flusher", lambda: None)
    done: list[str] = []
    down = {"on": True}

    def write(*, name):
        if down["on"]:
            raise OperationalError("connection refused")
        done.append(name)

    assert durability.write_or_queue(write, what="question", name="question") is False
    assert durability.write_or_queue(write, what="answer", name="answer") is False
    assert durability.pending_count() == 2 and done == []
    down["on"] = False
    assert durability.write_or_queue(write, what="next question", name="next") is True
    assert done == ["question", "answer", "next"] and durability.pending_count() == 0


@pytest.mark.django_db(transaction=True)
async def test_ws_first_piece_waits_for_the_question_to_be_stored(user, chat_session, fake_openai, monkeypatch):
    """Nothing is acknowledged for a question that is not kept: even when storing it is slower
    than the model's first token, the first piece is sent after the question is stored."""
    original = tutor._question_save

    def slow(**kwargs):
        time.sleep(0.5)
        return original(**kwargs)

    monkeypatch.setattr(tutor, "_question_save", slow)
    fake_openai.token_delay = 1.0  # the answer is stored seconds after its first piece
    fake_openai.push(text="quick first piece")
    sid = str(chat_session.pk)
    communicator = await connect(user)
    await communicator.send_json_to({"message": "slow write", "session_id": sid})
    while (await communicator.receive_json_from(timeout=5))["type"] != "partial":
        pass
    assert await messages_of(sid) == [{"role": "user", "content": "slow write", "is_complete": True}]
    while (await communicator.receive_json_from(timeout=5))["type"] != "final":
        pass
    await communicator.disconnect()
