"""The web-chat dialect's sessions list (GET /api/v1/chat/sessions/) reads its pairs in one query
for the page and shapes them in one pass (tutorhub/chat/pairs.py, issue 17): its answer must be
exactly what PairSessionSerializer and MessagePairSerializer make of fully loaded rows, on the fast
path (UTC) and on the general one (another timezone, USE_TZ off, a value stored in another form)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.renderers import JSONRenderer

from benchmarks.api_data import seed
from tests.conftest import client_for
from tests.core.test_query_counts import capture
from tutorhub.chat.models import ChatSession, Message
from tutorhub.chat.pairs import _uuid_text
from tutorhub.chat.selectors import chat_pair_queryset, chat_pairs
from tutorhub.chat.serializers import MessagePairSerializer, PairSessionSerializer

URL = "/api/v1/chat/sessions/"


@pytest.fixture
def data():
    data = seed(documents=1, paragraphs=4, chunks_per_document=2, cards=1, quizzes=1, sessions=3, pairs=2,
                notifications=1, groups=1, peers=1, prefix="pairlist")
    user = data["user"]
    # A session with no messages, a question with no answer yet, an answer still streaming, and a
    # time on a whole second (isoformat then has no fraction).
    ChatSession.objects.create(owner=user, title="Empty")
    unanswered = ChatSession.objects.create(owner=user, title="Waiting")
    question = Message.objects.create(session=unanswered, role="user", content="Is anyone there?")
    Message.objects.create(session=unanswered, role="user", content="Hello?")
    Message.objects.create(session=unanswered, role="assistant", content="Hal", reply_to=question, is_complete=False)
    Message.objects.filter(pk=question.pk).update(created_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC))
    return data


def rendered(value) -> list | dict:
    return json.loads(JSONRenderer().render(value))


def whole_rows(user) -> list[dict]:
    """The list's sessions as the serializers make them of whole rows: every column of each session,
    each pair from the question and answer Message instances (the per-session pair list's path)."""
    sessions = list(ChatSession.objects.filter(owner=user).order_by("-is_pinned", "-updated_at"))
    for session in sessions:
        session.pairs = MessagePairSerializer(chat_pairs(chat_pair_queryset(session=session)), many=True).data
    return rendered(PairSessionSerializer(sessions, many=True).data)


def listed(user, url: str = URL) -> list[dict]:
    response = client_for(user).get(url)
    assert response.status_code == 200, response.content[:300]
    return response.json()["results"]


@pytest.mark.django_db
def test_list_equals_the_serializers_over_whole_rows(data):
    user = data["user"]
    results = listed(user)
    assert results == whole_rows(user)
    by_title = {row["title"]: row for row in results}
    assert [len(by_title[f"Chat {n}"]["chats"]) for n in range(3)] == [2, 2, 2]
    assert by_title["Empty"]["chats"] == [] and by_title["Empty"]["last_message"] is None
    waiting = by_title["Waiting"]["chats"]
    assert [(p["message"], p["response"], p["is_complete"]) for p in waiting] == [
        ("Is anyone there?", "Hal", False), ("Hello?", None, False)
    ]
    assert waiting[0]["created_at"].endswith(":00Z") and "." not in waiting[0]["created_at"]
    assert by_title["Waiting"]["last_message"] == waiting[-1]


@pytest.mark.django_db
def test_pages_and_detail_equal_the_serializers_over_whole_rows(data):
    user = data["user"]
    expected = whole_rows(user)
    assert listed(user, f"{URL}?page_size=2") + listed(user, f"{URL}?page_size=2&page=2") + listed(
        user, f"{URL}?page_size=2&page=3"
    ) == expected
    for row in expected:
        response = client_for(user).get(f"{URL}{row['id']}/")
        assert response.status_code == 200 and response.json() == row


@pytest.mark.django_db
@pytest.mark.parametrize("settings_", [{"TIME_ZONE": "America/New_York"}, {"USE_TZ": False}])
def test_general_path_equals_the_serializers(data, settings_):
    user = data["user"]
    with override_settings(**settings_):
        assert listed(user) == whole_rows(user)


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite keeps datetimes as text that may carry an offset")
def test_a_time_stored_with_an_offset_takes_the_general_path(data):
    user = data["user"]
    question = Message.objects.filter(session__owner=user, role="user").first()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE chat_message SET created_at = %s WHERE id = %s", ["2026-02-03 10:00:00+02:00", question.pk.hex])
    results = listed(user)
    assert results == whole_rows(user)
    assert "2026-02-03T08:00:00Z" in {pair["created_at"] for row in results for pair in row["chats"]}


@pytest.mark.django_db
def test_text_json_would_escape_and_equal_times_keep_the_querys_order(data):
    """On SQLite the page's pairs travel as one JSON array (pairs._fetch): text that JSON escapes
    comes back as it was, and questions asked at the same instant keep the query's order (id)."""
    user = data["user"]
    session = ChatSession.objects.create(owner=user, title="Escapes")
    texts = ['say "hi"\nthen \\ leave', "emoji 🦉 and \u2028 and é", "tab\there", "[1, 2] {\"a\": null}"]
    asked = [Message.objects.create(session=session, role="user", content=text) for text in texts]
    Message.objects.create(session=session, role="assistant", content='an "answer"\n', reply_to=asked[0])
    Message.objects.filter(pk__in=[m.pk for m in asked]).update(created_at=datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC))
    results = listed(user)
    assert results == whole_rows(user)
    chats = next(row for row in results if row["title"] == "Escapes")["chats"]
    assert [pair["id"] for pair in chats] == sorted(str(m.pk) for m in asked)
    assert {pair["message"] for pair in chats} == set(texts)
    assert chats[[pair["message"] for pair in chats].index(texts[0])]["response"] == 'an "answer"\n'


@pytest.mark.django_db
def test_one_query_reads_the_pairs_of_the_whole_page(data):
    statements = capture(client_for(data["user"]), URL)
    pairs = [sql for sql in statements if 'FROM "chat_message"' in sql]
    assert len(pairs) == 1 and "IN (" in pairs[0], statements
    assert len(statements) == 3  # user, page, pairs: a page not full needs no COUNT (tests/core/test_query_counts.py)


@pytest.mark.django_db
def test_an_empty_page_reads_no_pairs(user):
    statements = capture(client_for(user), URL)
    assert listed(user) == []
    assert not [sql for sql in statements if 'FROM "chat_message"' in sql], statements


@pytest.mark.django_db
def test_created_session_answers_with_no_chats(user):
    response = client_for(user).post(URL, {"title": "New"}, format="json")
    assert response.status_code == 201
    assert response.json()["chats"] == [] and response.json()["last_message"] is None


def test_uuid_text_is_uuids_own_text():
    for value in [uuid.uuid4() for _ in range(50)] + [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]:
        assert _uuid_text(value.hex) == str(value)
        assert _uuid_text(value.hex.upper()) == str(value)
    assert _uuid_text("-" + "0" * 31) is None  # uuid.UUID's own error on the general path
    assert _uuid_text("0" * 31) is None and _uuid_text(uuid.uuid4()) is None
    with pytest.raises(ValueError):
        _uuid_text("g" * 32)


@pytest.mark.django_db
def test_session_page_reads_three_columns(data):
    page = [sql for sql in capture(client_for(data["user"]), URL)
            if 'FROM "chat_chatsession"' in sql and not sql.startswith("SELECT COUNT(*)")]
    assert len(page) == 1, page
    selected = page[0].split(" FROM ")[0]
    assert selected.count('"chat_chatsession".') == 3 and '"system_prompt"' not in selected, selected
