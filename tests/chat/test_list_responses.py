"""The chat lists read only what they show (issue 17) and answer exactly what their serializers
make of whole rows: the canonical chats list without the course join (it shows the course's id).
The web-chat dialect's session list: tests/chat/test_pair_sessions_list.py."""

from __future__ import annotations

import json

import pytest
from rest_framework.renderers import JSONRenderer

from benchmarks.api_data import seed
from tests.conftest import client_for
from tests.core.test_query_counts import capture
from tutorhub.chat.models import ChatSession, Message
from tutorhub.chat.serializers import ChatSessionSerializer, MessageSerializer
from tutorhub.core.querysets import related_count


@pytest.fixture
def data():
    return seed(documents=1, paragraphs=4, chunks_per_document=2, cards=1, quizzes=1, sessions=3, pairs=2,
                notifications=1, groups=1, peers=1, prefix="chatlists")


def rendered(data) -> list:
    return json.loads(JSONRenderer().render(data))


def whole_sessions(user):
    return ChatSession.objects.filter(owner=user).select_related("course").order_by("-is_pinned", "-updated_at")


@pytest.mark.django_db
def test_chats_list_equals_the_serializer_over_whole_rows(data):
    user = data["user"]
    sessions = whole_sessions(user).annotate(message_count=related_count(Message, "session"))
    response = client_for(user).get("/api/v1/chat/chats/")
    assert response.status_code == 200
    assert response.json()["results"] == rendered(ChatSessionSerializer(sessions, many=True).data)
    assert all(row["course"] and row["message_count"] == 4 for row in response.json()["results"])


@pytest.mark.django_db
def test_chats_list_does_not_join_the_course(data):
    page = [sql for sql in capture(client_for(data["user"]), "/api/v1/chat/chats/")
            if 'FROM "chat_chatsession"' in sql and not sql.startswith("SELECT COUNT(*)")]
    assert len(page) == 1 and "courses_course" not in page[0], page


@pytest.mark.django_db
def test_messages_list_equals_the_serializer_and_reads_the_chat_alone(data):
    session = data["session"]
    client = client_for(data["user"])
    response = client.get(f"/api/v1/chat/chats/{session.pk}/messages/")
    assert response.status_code == 200
    expected = rendered(MessageSerializer(session.messages.order_by("created_at", "id"), many=True).data)
    assert response.json()["results"] == expected and len(expected) == 4
    chat = [sql for sql in capture(client, f"/api/v1/chat/chats/{session.pk}/messages/")
            if 'FROM "chat_chatsession"' in sql]
    assert len(chat) == 1 and "courses_course" not in chat[0] and "COUNT(" not in chat[0], chat


@pytest.mark.django_db
def test_messages_of_another_users_chat_are_a_404(data, user):
    response = client_for(user).get(f"/api/v1/chat/chats/{data['session'].pk}/messages/")
    assert response.status_code == 404
