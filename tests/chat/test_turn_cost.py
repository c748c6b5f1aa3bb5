"""What a chat turn costs the database before the model is asked: at most five SQL statements
on SQLite and on PostgreSQL (CI runs this file on both), offline or with a paid model (whose
quota check is two or three of them). Every statement here is a round trip that the turn's
first token waits for, on a turn thread that other chats' turns may be queued behind."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.chat.conftest import PHOTOSYNTHESIS
from tutorhub.chat.models import Message
from tutorhub.chat.selectors import chat_session_for_turn, history_window, turn_history
from tutorhub.chat.services.tutor import HISTORY_TOKEN_BUDGET, NO_MATCH_NOTE, _open_turn

pytestmark = pytest.mark.django_db
TURN_BUDGET = 5


def _exchange(session, n: int) -> None:
    for i in range(n):
        question = Message.objects.create(session=session, role="user", content=f"Question {i} about plants?", token_count=6)
        Message.objects.create(session=session, role="assistant", content=f"Answer {i}: chloroplasts.", reply_to=question,
                               token_count=5)


def _statements(**kwargs) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        turn = _open_turn(**kwargs)
    assert turn.context["passages"], "the turn should have found its passage"
    # Savepoints are the test's own transaction around the quota check (BEGIN/COMMIT outside tests).
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


@pytest.mark.parametrize("model", ["offline", "paid"])
def test_turn_preparation_is_at_most_five_statements(request, user, chat_session, add_document, settings, model):
    if model == "paid":
        request.getfixturevalue("fake_openai")
        settings.EMBEDDING_BACKENDS = {}  # the query embedding is no database statement either way
    add_document(user=user, title="Biology notes", content=PHOTOSYNTHESIS)
    _exchange(chat_session, 5)
    statements = _statements(user=user, session_id=str(chat_session.pk), content="Where does photosynthesis happen?")
    print(f"{connection.vendor} {model}: {len(statements)} statements")
    assert len(statements) <= TURN_BUDGET, "\n".join(statements)
    if model == "offline":
        # Free work: no plan read, no reservation.
        assert not any("billing_" in sql for sql in statements), "\n".join(statements)


def test_history_read_with_the_session_is_the_history_window(user, chat_session):
    _exchange(chat_session, 30)  # more than the token budget holds
    Message.objects.create(session=chat_session, role="assistant", content="cut off", is_complete=False)
    Message.objects.create(session=chat_session, role="system", content="system note")
    session = chat_session_for_turn(user=user, session_id=str(chat_session.pk))
    assert "history_rows" in session.__dict__ or connection.vendor not in ("sqlite", "postgresql")
    window = turn_history(session=session, token_budget=HISTORY_TOKEN_BUDGET)
    assert window == history_window(session=chat_session, token_budget=HISTORY_TOKEN_BUDGET)
    assert window[-1] == {"role": "assistant", "content": "Answer 29: chloroplasts."}
    assert 0 < len(window) < 60


def test_standing_context_is_read_only_when_the_session_has_some(user, chat_session):
    from tutorhub.chat.services import chat_context_add

    assert chat_session_for_turn(user=user, session_id=str(chat_session.pk)).has_contexts is False
    chat_context_add(session=chat_session, context_type="note", content="Focus on chapter 3", priority="high")
    assert chat_session_for_turn(user=user, session_id=str(chat_session.pk)).has_contexts is True


def test_a_user_with_nothing_to_search_skips_retrieval(user, chat_session, monkeypatch):
    """No processed document: the session's own query says so, and the turn neither embeds the
    question nor searches; the prompt still says there is no material (not "no match")."""
    from tutorhub.chat.services import tutor

    _exchange(chat_session, 2)
    searched = []
    monkeypatch.setattr(tutor, "retrieve", lambda **kwargs: searched.append(kwargs) or [])
    with CaptureQueriesContext(connection) as captured:
        turn = _open_turn(user=user, session_id=str(chat_session.pk), content="Where does photosynthesis happen?")
    assert searched == []
    assert turn.context["has_material"] is False and turn.messages[-2]["content"] == tutor.NO_MATERIAL_NOTE
    assert [m["content"] for m in turn.messages[1:-2]] == [m["content"] for m in turn_history(
        session=chat_session_for_turn(user=user, session_id=str(chat_session.pk)), token_budget=HISTORY_TOKEN_BUDGET)]
    assert len(captured.captured_queries) == 1, [q["sql"] for q in captured.captured_queries]  # the session, offline


def test_material_elsewhere_is_still_searched(user, chat_session, add_document):
    add_document(user=user, title="Biology notes", content=PHOTOSYNTHESIS)
    turn = _open_turn(user=user, session_id=str(chat_session.pk), content="Where does photosynthesis happen?")
    assert turn.context["has_material"] is True and turn.context["passages"]
    missed = _open_turn(user=user, session_id=str(chat_session.pk), content="Zebrafish quaternions?")
    assert missed.context["has_material"] is True and not missed.context["passages"]
    assert missed.messages[-2]["content"] == NO_MATCH_NOTE
