"""Chat paths of seeds 000 (/api/sessions/), 003 (/api/v1/chat/, chats-history) and 004 (/api/v1/chat/sessions/)."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import client_for
from tutorhub.chat import services
from tutorhub.chat.models import ChatSession

pytestmark = pytest.mark.django_db


# --- seed 000 ---------------------------------------------------------------------------------
def test_seed_000_sessions(api_client, user, other_user):
    created = api_client.post("/api/sessions/", {"title": "New Study Session"}, format="json")
    assert created.status_code == 201
    data = created.json()
    assert set(data) == {"id", "title", "created_at"} and data["title"] == "New Study Session"
    sid = data["id"]
    listed = api_client.get("/api/sessions/").json()
    assert isinstance(listed, list) and listed[0]["id"] == sid
    assert api_client.get(f"/api/sessions/{sid}/").json()["title"] == "New Study Session"

    services.chat_message_send(session=ChatSession.objects.get(pk=sid), user=user, content="What is supervised learning?")
    messages = api_client.get(f"/api/sessions/{sid}/messages/").json()
    assert [m["sender"] for m in messages] == ["user", "assistant"]
    assert messages[0]["content"] == "What is supervised learning?" and "created_at" in messages[0]

    assert client_for(other_user).get(f"/api/sessions/{sid}/").status_code == 404
    assert client_for(other_user).get(f"/api/sessions/{sid}/messages/").status_code == 404
    assert client_for(other_user).delete(f"/api/sessions/{sid}/").status_code == 404
    assert api_client.delete(f"/api/sessions/{sid}/").status_code == 204
    assert api_client.get(f"/api/sessions/{sid}/").status_code == 404
    assert api_client.post("/api/sessions/", {"title": "x" * 500}, format="json").status_code == 400


def test_seed_000_session_without_title_gets_a_default(api_client):
    assert api_client.post("/api/sessions/", {}, format="json").json()["title"] == "New Chat"


# --- seed 003 ---------------------------------------------------------------------------------
def test_seed_003_chat_creates_then_continues_a_session(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    first = client.post("/api/v1/chat/", {"session_id": None, "message": "Hello, how are you?"}, format="json")
    assert first.status_code == 200, first.json()
    sid = first.json()["session_id"]
    assert uuid.UUID(sid) and first.json()["message"]
    assert ChatSession.objects.get(pk=sid).title == "Hello, how are you?"

    again = client.post("/api/v1/chat/", {"session_id": sid, "message": "And photosynthesis?"}, format="json")
    assert again.json()["session_id"] == sid
    assert client.post("/api/v1/chat/", {"message": "no id"}, format="json").json()["session_id"] != sid

    history = client.get("/api/v1/chat/chats-history/").json()
    assert history["count"] == 2 and {"session_id", "title", "created_at"} <= set(history["results"][0])

    detail = client.get(f"/api/v1/chat/chats/{sid}/").json()
    assert detail["id"] == sid and [m["role"] for m in detail["messages"]] == ["user", "assistant"] * 2


def test_seed_003_errors(api_client, other_user):
    assert api_client.post("/api/v1/chat/", {}, format="json").status_code == 400
    foreign = services.chat_session_create(user=other_user)
    assert api_client.post("/api/v1/chat/", {"session_id": str(foreign.pk), "message": "hi"}, format="json").status_code == 404
    assert api_client.post("/api/v1/chat/", {"session_id": "garbage", "message": "hi"}, format="json").status_code == 400
    assert api_client.get(f"/api/v1/chat/chats/{uuid.uuid4()}/").status_code == 404


# --- seed 004 ---------------------------------------------------------------------------------
def test_seed_004_sessions_and_chats(api_client, other_user, django_assert_max_num_queries):
    created = api_client.post("/api/v1/chat/sessions/", {"title": "New Chat Session"}, format="json")
    assert created.status_code == 201
    assert created.json() == {**created.json(), "title": "New Chat Session", "chats": [], "last_message": None}
    sid = created.json()["id"]

    chat = api_client.post(f"/api/v1/chat/sessions/{sid}/chats/", {"message": "Hello, how are you?"}, format="json")
    assert chat.status_code == 201, chat.json()
    pair = chat.json()
    assert pair["message"] == "Hello, how are you?" and pair["response"] and pair["created_at"]
    api_client.post(f"/api/v1/chat/sessions/{sid}/chats/", {"message": "Second"}, format="json")

    pairs = api_client.get(f"/api/v1/chat/sessions/{sid}/chats/").json()
    assert pairs["count"] == 2 and [p["message"] for p in pairs["results"]] == ["Hello, how are you?", "Second"]
    assert api_client.get(f"/api/v1/chat/sessions/{sid}/chats/", {"page_size": 1}).json()["next"]
    assert api_client.get(f"/api/v1/chat/sessions/{sid}/chats/{pair['id']}/").json() == pairs["results"][0]

    session = api_client.get(f"/api/v1/chat/sessions/{sid}/").json()
    assert len(session["chats"]) == 2 and session["last_message"]["message"] == "Second"
    with django_assert_max_num_queries(4):
        listed = api_client.get("/api/v1/chat/sessions/").json()
    assert listed["count"] == 1 and len(listed["results"][0]["chats"]) == 2

    other = client_for(other_user)
    assert other.get(f"/api/v1/chat/sessions/{sid}/").status_code == 404
    assert other.get(f"/api/v1/chat/sessions/{sid}/chats/").status_code == 404
    assert other.post(f"/api/v1/chat/sessions/{sid}/chats/", {"message": "x"}, format="json").status_code == 404
    assert other.get(f"/api/v1/chat/sessions/{sid}/chats/{pair['id']}/").status_code == 404
    assert api_client.post(f"/api/v1/chat/sessions/{sid}/chats/", {}, format="json").status_code == 400


def test_seed_004_list_queries_do_not_grow_with_sessions(api_client, user, django_assert_num_queries):
    for i in range(4):
        s = services.chat_session_create(user=user, title=f"s{i}")
        services.chat_message_send(session=s, user=user, content=f"q{i}")
    with django_assert_num_queries(3):  # user, sessions, pairs (a page not full needs no COUNT)
        assert api_client.get("/api/v1/chat/sessions/").json()["count"] == 4
