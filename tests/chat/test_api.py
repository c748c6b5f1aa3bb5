"""Seed 001's chat API: /api/v1/chat/chats/ and /api/v1/chat/tutoring-sessions/."""

from __future__ import annotations

import uuid

import pytest

from tests.chat.conftest import PHOTOSYNTHESIS
from tests.conftest import client_for
from tests.factories import CourseFactory
from tutorhub.billing.models import UsageRecord
from tutorhub.chat import services
from tutorhub.chat.models import ChatSession, Message, TutoringSession

pytestmark = pytest.mark.django_db
CHATS = "/api/v1/chat/chats/"


def test_create_list_filter_chats(api_client, user):
    course = CourseFactory(owner=user)
    body = {
        "title": "Calculus Study Session",
        "course": str(course.pk),
        "chat_type": "tutoring",
        "ai_model": "gpt-4",
        "temperature": 0.7,
        "system_prompt": "You are a helpful calculus tutor focused on clear explanations.",
    }
    created = api_client.post(CHATS, body)
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["course"] == str(course.pk) and data["chat_type"] == "tutoring" and data["ai_model"] == "gpt-4"
    assert uuid.UUID(data["id"]) and data["status"] == "active"
    api_client.post(CHATS, {"title": "General", "chat_type": "general"})

    listed = api_client.get(CHATS).json()
    assert listed["count"] == 2 and {"next", "previous", "results"} <= set(listed)
    assert api_client.get(CHATS, {"chat_type": "tutoring"}).json()["count"] == 1
    assert api_client.get(CHATS, {"course": str(course.pk)}).json()["count"] == 1
    assert api_client.get(CHATS, {"status": "archived"}).json()["count"] == 0


def test_course_must_be_visible_and_input_validated(api_client, other_user):
    foreign = CourseFactory(owner=other_user)
    assert api_client.post(CHATS, {"title": "x", "course": str(foreign.pk)}).status_code == 404
    bad = api_client.post(CHATS, {"title": "x", "chat_type": "party", "temperature": 9})
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "VALIDATION_ERROR" and "chat_type" in bad.json()["details"]
    assert not ChatSession.objects.exists()


def test_update_and_delete(api_client, chat_session):
    url = f"{CHATS}{chat_session.pk}/"
    assert api_client.patch(url, {"is_pinned": True, "status": "archived"}).json()["is_pinned"] is True
    assert api_client.delete(url).status_code == 204
    assert not ChatSession.objects.filter(pk=chat_session.pk).exists()


def test_other_users_chats_are_404(chat_session, other_user):
    client = client_for(other_user)
    url = f"{CHATS}{chat_session.pk}/"
    assert client.get(url).status_code == 404
    assert client.post(f"{url}send_message/", {"content": "hi"}).status_code == 404
    assert client.get(f"{url}messages/").status_code == 404
    assert client.delete(url).status_code == 404
    assert client.get(f"{CHATS}not-a-uuid/").status_code == 404
    assert client.get(CHATS).json()["count"] == 0


def test_anonymous_is_401(anon_client):
    response = anon_client.get(CHATS)
    assert response.status_code == 401 and response.json()["error_code"] == "AUTHENTICATION_FAILED"


def test_send_message_answers_from_the_users_documents(api_client, user, chat_session, add_document):
    document = add_document(user=user, title="Biology notes", content=PHOTOSYNTHESIS)
    response = api_client.post(
        f"{CHATS}{chat_session.pk}/send_message/",
        {"content": "Where does photosynthesis take place?", "message_type": "question"},
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["user_message"]["role"] == "user"
    assert data["user_message"]["content"] == "Where does photosynthesis take place?"
    answer = data["ai_response"]
    assert answer["role"] == "assistant" and answer["ai_model_used"] == "tutorhub-offline-chat"
    assert "chloroplasts" in answer["content"] and "[1]" in answer["content"]
    assert answer["token_count"] > 0 and answer["processing_time_ms"] >= 0 and answer["is_complete"] is True
    context = answer["context_used"]
    assert context["documents_referenced"] == [str(document.pk)]
    assert context["citations"][0]["document_title"] == "Biology notes"
    assert context["course_concepts"]
    assert UsageRecord.objects.filter(user=user, feature="chat", kind="ai_tokens").exists()
    # A fresh chat named "New Chat" is renamed after its first question; this one keeps its title.
    assert ChatSession.objects.get(pk=chat_session.pk).title == "Calculus"


def test_answer_says_so_when_material_does_not_cover_the_question(api_client, user, chat_session, add_document):
    add_document(user=user, title="Biology notes", content=PHOTOSYNTHESIS)
    answer = api_client.post(f"{CHATS}{chat_session.pk}/send_message/", {"content": "Who won the 1998 World Cup?"}).json()
    assert "couldn't find" in answer["ai_response"]["content"] or "none to search" in answer["ai_response"]["content"]


def test_other_users_documents_are_never_used(api_client, other_user, chat_session, add_document):
    add_document(user=other_user, title="Secret notes", content=PHOTOSYNTHESIS)
    answer = api_client.post(f"{CHATS}{chat_session.pk}/send_message/", {"content": "Where does photosynthesis happen?"})
    assert answer.json()["ai_response"]["context_used"]["citations"] == []
    assert "chloroplasts" not in answer.json()["ai_response"]["content"]


def test_context_documents_narrow_retrieval(api_client, user, chat_session, add_document):
    add_document(user=user, title="Biology notes", content=PHOTOSYNTHESIS)
    other = add_document(user=user, title="Energy", content="Photosynthesis is one way living things capture energy.")
    data = api_client.post(
        f"{CHATS}{chat_session.pk}/send_message/",
        {"content": "What is photosynthesis?", "context_documents": [str(other.pk)]},
    ).json()
    assert data["ai_response"]["context_used"]["documents_referenced"] == [str(other.pk)]


def test_send_message_validation(api_client, chat_session):
    url = f"{CHATS}{chat_session.pk}/send_message/"
    assert api_client.post(url, {}).status_code == 400
    assert api_client.post(url, {"content": "   "}).status_code == 400
    assert api_client.post(url, {"content": "x", "message_type": "rant"}).status_code == 400
    assert api_client.post(url, {"content": "x", "context_documents": ["nope"]}).status_code == 400
    assert not Message.objects.exists()


def test_history_window_is_bounded_by_tokens(user, chat_session, fake_openai):
    for i in range(30):
        services.chat_message_send(session=chat_session, user=user, content=f"question {i} " + "word " * 100)
    body = fake_openai.requests[-1][1]
    history = [m for m in body["messages"] if m["role"] in ("user", "assistant")][:-1]
    assert 0 < len(history) < 58  # a window, not the whole conversation
    assert history[-1]["content"] == fake_openai.default_reply  # most recent turn included
    assert body["messages"][-1]["content"].startswith("question 29")


def test_messages_filters_and_limit(api_client, user, chat_session):
    services.chat_message_send(session=chat_session, user=user, content="What is a limit?")
    services.chat_message_send(session=chat_session, user=user, content="Try this problem", message_type="problem")
    url = f"{CHATS}{chat_session.pk}/messages/"
    everything = api_client.get(url).json()
    assert everything["count"] == 4
    assert [m["role"] for m in everything["results"]] == ["user", "assistant", "user", "assistant"]
    assert api_client.get(url, {"role": "user"}).json()["count"] == 2
    assert api_client.get(url, {"type": "problem"}).json()["results"][0]["content"] == "Try this problem"
    latest = api_client.get(url, {"limit": 1}).json()["results"]
    assert len(latest) == 1 and latest[0]["role"] == "assistant"
    assert api_client.get(url, {"role": "robot"}).status_code == 400


def test_retrieve_includes_messages(api_client, user, chat_session, django_assert_max_num_queries):
    services.chat_message_send(session=chat_session, user=user, content="Hello")
    with django_assert_max_num_queries(8):
        data = api_client.get(f"{CHATS}{chat_session.pk}/").json()
    assert data["title"] == "Calculus" and data["chat_type"] == "study"
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]


def test_list_query_count_does_not_grow(api_client, user, django_assert_num_queries):
    for i in range(3):
        services.chat_session_create(user=user, title=f"s{i}")
    with django_assert_num_queries(2):  # user, page (not full: the last one, so no COUNT)
        api_client.get(CHATS)
    for i in range(5):
        services.chat_session_create(user=user, title=f"t{i}")
    with django_assert_num_queries(2):
        assert api_client.get(CHATS).json()["count"] == 8
    with django_assert_num_queries(3):  # user, a full page, count
        assert api_client.get(CHATS + "?page_size=4").json()["count"] == 8


def test_add_context_steers_later_answers(api_client, user, chat_session, add_document, fake_openai):
    doc = add_document(user=user, title="Chapter 3", content="The chain rule differentiates composite functions.")
    add_document(user=user, title="Chapter 9", content="The chain rule also appears in probability chains.")
    response = api_client.post(
        f"{CHATS}{chat_session.pk}/add_context/",
        {
            "context_type": "document",
            "content": "Focus on chapter 3 of the calculus textbook",
            "document_ids": [str(doc.pk)],
            "priority": "high",
            "expiration_date": "2099-01-25T00:00:00Z",
        },
    )
    assert response.status_code == 201, response.json()
    # Citations are the passages the answer cites (issue 13): the model cites its one passage.
    fake_openai.push(text="It differentiates composite functions [1].")
    data = api_client.post(f"{CHATS}{chat_session.pk}/send_message/", {"content": "Explain the chain rule"}).json()
    assert data["ai_response"]["context_used"]["documents_referenced"] == [str(doc.pk)]
    system = fake_openai.requests[-1][1]["messages"][0]["content"]
    assert "Focus on chapter 3 of the calculus textbook" in system
    assert api_client.post(f"{CHATS}{chat_session.pk}/add_context/", {"priority": "high"}).status_code == 400


def test_stats_are_computed_from_stored_messages(api_client, user, add_document):
    add_document(user=user, title="Biology notes", content=PHOTOSYNTHESIS)
    a = services.chat_session_create(user=user, title="a", chat_type="tutoring", is_favorite=True)
    b = services.chat_session_create(user=user, title="b", chat_type="study", is_pinned=True)
    services.chat_session_update(session=b, user=user, status="archived")
    services.chat_message_send(session=a, user=user, content="Where does photosynthesis happen?")
    services.chat_message_send(session=a, user=user, content="Who won the World Cup?")
    services.chat_message_send(session=b, user=user, content="Balance the photosynthesis equation", message_type="problem")
    stats = api_client.get(f"{CHATS}stats/").json()
    assert stats["total_chats"] == 2 and stats["active_chats"] == 1
    assert stats["favorite_chats"] == 1 and stats["pinned_chats"] == 1
    assert stats["total_messages"] == 6
    assert stats["total_tokens_used"] == sum(m.token_count for m in Message.objects.all())
    assert stats["average_response_time_ms"] >= 0
    assert {"chat_type": "tutoring", "count": 1} in stats["by_type"]
    insights = stats["learning_insights"]
    assert insights["questions_answered"] == 2
    assert insights["problems_solved"] == 1
    assert insights["knowledge_gaps_identified"] == 1  # the World Cup question found no material
    assert insights["concepts_discussed"] >= 1


def test_tutoring_session_lifecycle(api_client, user):
    course = CourseFactory(owner=user)
    created = api_client.post(
        "/api/v1/chat/tutoring-sessions/",
        {
            "course": str(course.pk),
            "title": "Derivatives Practice Session",
            "session_type": "practice",
            "learning_objectives": ["Master the chain rule", "Apply derivatives to real-world problems"],
            "estimated_duration_minutes": 60,
            "difficulty_level": "intermediate",
        },
    )
    assert created.status_code == 201, created.json()
    tutoring = created.json()
    assert tutoring["status"] == "planned" and tutoring["chat"]
    chat = ChatSession.objects.get(pk=tutoring["chat"])
    assert chat.chat_type == "tutoring" and "Master the chain rule" in chat.system_prompt
    url = f"/api/v1/chat/tutoring-sessions/{tutoring['id']}/"
    assert api_client.post(f"{url}complete/", {}).status_code == 409  # not started
    started = api_client.post(f"{url}start/").json()
    assert started["status"] == "in_progress" and started["started_at"]
    assert api_client.post(f"{url}start/").status_code == 409
    done = api_client.post(
        f"{url}complete/",
        {
            "objectives_achieved": ["Mastered basic chain rule applications"],
            "concepts_mastered": ["chain_rule", "composite_functions"],
            "areas_for_improvement": ["complex nested functions"],
            "user_satisfaction": 4,
            "learning_effectiveness": 4,
            "session_notes": "Good progress.",
        },
    ).json()
    assert done["status"] == "completed" and done["concepts_mastered"] == ["chain_rule", "composite_functions"]
    from tutorhub.learning.models import LearnerEvent

    assert set(LearnerEvent.objects.filter(user=user).values_list("topic", flat=True)) == {"chain rule", "composite functions"}
    assert api_client.post(f"{url}complete/", {"user_satisfaction": 9}).status_code == 400
    assert api_client.get("/api/v1/chat/tutoring-sessions/").json()["count"] == 1


def test_tutoring_sessions_are_private(api_client, user, other_user):
    tutoring = services.tutoring_session_create(user=user, title="Mine")
    assert client_for(other_user).post(f"/api/v1/chat/tutoring-sessions/{tutoring.pk}/start/").status_code == 404
    assert TutoringSession.objects.get(pk=tutoring.pk).status == "planned"


def test_message_audio_is_a_real_wav(api_client, user, chat_session, other_user):
    _, answer = services.chat_message_send(session=chat_session, user=user, content="Hello")
    url = f"{CHATS}{chat_session.pk}/messages/{answer.pk}/audio/"
    response = api_client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
    assert response.content[:4] == b"RIFF"
    assert client_for(other_user).get(url).status_code == 404


def test_include_course_context_widens_to_course_documents(api_client, user, teacher, add_document):
    from tests.factories import GroupFactory

    course = CourseFactory(owner=teacher)
    GroupFactory(course=course, teacher=teacher).students.add(user)
    add_document(user=teacher, title="Course notes", content=PHOTOSYNTHESIS, course=course)
    session = services.chat_session_create(user=user, title="Bio", course=course)
    url = f"{CHATS}{session.pk}/send_message/"
    widened = api_client.post(url, {"content": "Where does photosynthesis happen?"}).json()["ai_response"]
    assert widened["context_used"]["citations"][0]["document_title"] == "Course notes"
    narrow = api_client.post(url, {"content": "Where does photosynthesis happen?", "include_course_context": False})
    assert narrow.json()["ai_response"]["context_used"]["citations"] == []


@pytest.mark.django_db
def test_turn_preparation_queries_do_not_grow_with_history(user):
    """The history window is one query however long the chat (no per-message lookups)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tutorhub.chat.services import chat_session_create
    from tutorhub.chat.services.tutor import _open_turn

    session = chat_session_create(user=user, title="History")

    def queries_for_next_turn() -> int:
        with CaptureQueriesContext(connection) as ctx:
            _open_turn(user=user, session_id=session.id, content="What is photosynthesis?")
        return len(ctx.captured_queries)

    _open_turn(user=user, session_id=session.id, content="first")
    short = queries_for_next_turn()
    for i in range(6):
        _open_turn(user=user, session_id=session.id, content=f"more history {i}")
    assert queries_for_next_turn() == short
