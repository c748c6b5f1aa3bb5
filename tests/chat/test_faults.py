"""Upstream faults over REST: a clear error envelope, the user's message kept, the next message works."""

from __future__ import annotations

import pytest

from tutorhub.chat.models import Message

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
