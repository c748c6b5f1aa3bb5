"""Chat reads, always scoped to the caller (another user's session is a 404)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone

from tutorhub.ai import estimate_tokens
from tutorhub.chat.models import ChatContext, ChatSession, Message, TutoringSession
from tutorhub.core.querysets import related_count
from tutorhub.knowledge.retrieval import searchable_documents


def chat_sessions_owned(*, user) -> QuerySet[ChatSession]:
    """The user's sessions as they are (no counts, nothing joined), pinned first, then newest."""
    return ChatSession.objects.filter(owner=user).order_by("-is_pinned", "-updated_at")


def chat_session_owned_by_id(*, user, pk) -> QuerySet[ChatSession]:
    """The user's session `pk` as a queryset of at most one row (the messages action's compiled lookup)."""
    return chat_sessions_owned(user=user).filter(pk=pk)


def chat_session_list(*, user, with_course: bool = False) -> QuerySet[ChatSession]:
    """The user's sessions with their message counts; `with_course` joins the course (for the
    canonical API's actions on one chat; the lists show only the course's id)."""
    sessions = chat_sessions_owned(user=user).annotate(message_count=related_count(Message, "session"))
    return sessions.select_related("course") if with_course else sessions


def _uuid(value) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise Http404("No chat session matches the given query.") from None


def chat_session_get(*, user, session_id, queryset: QuerySet[ChatSession] | None = None) -> ChatSession:
    """The user's session; Http404 for a malformed id, an unknown one, or another user's.
    `queryset`: the sessions to look in, with what the caller annotates (chat_session_for_turn)."""
    queryset = queryset if queryset is not None else ChatSession.objects.select_related("course")
    try:
        return queryset.get(owner=user, pk=_uuid(session_id))
    except ChatSession.DoesNotExist:
        raise Http404("No chat session matches the given query.") from None


def message_list(
    *, session: ChatSession, role: str | None = None, message_type: str | None = None, limit: int | None = None
) -> QuerySet[Message] | list[Message]:
    """Messages in conversation order; `limit` keeps the most recent ones."""
    qs = session.messages.all()
    if role:
        qs = qs.filter(role=role)
    if message_type:
        qs = qs.filter(message_type=message_type)
    if limit:
        return list(reversed(qs.order_by("-created_at", "-id")[:limit]))
    return qs.order_by("created_at", "id")


def message_get(*, user, session_id, message_id) -> Message:
    session = chat_session_get(user=user, session_id=session_id)
    message = session.messages.filter(pk=_uuid(message_id)).first()
    if message is None:
        raise Http404("No message matches the given query.")
    return message


HISTORY_MAX_MESSAGES = 40


def history_window(*, session: ChatSession, token_budget: int, max_messages: int = HISTORY_MAX_MESSAGES) -> list[dict[str, str]]:
    """The most recent complete messages that fit in `token_budget` tokens, oldest first, as
    prompt messages ({"role", "content"}).

    A bounded window (not the whole history) keeps prompts and cost flat in long chats. Plain
    rows, not model instances: this runs before every answer, on its time to first token.
    """
    rows = (
        session.messages.filter(is_complete=True)
        .exclude(role=Message.Role.SYSTEM)
        .order_by("-created_at", "-id")
        .values_list("role", "content", "token_count")[:max_messages]
    )
    return history_from_rows(rows, token_budget=token_budget)


def history_from_rows(rows, *, token_budget: int) -> list[dict[str, str]]:
    """history_window's budget applied to (role, content, token_count) rows, newest first
    (chat_session_for_turn reads them with the session, in the same query)."""
    window: list[dict[str, str]] = []
    used = 0
    for role, content, token_count in rows:
        cost = token_count or estimate_tokens(content)
        if used + cost > token_budget:
            break
        window.append({"role": role, "content": content})
        used += cost
    window.reverse()
    return window


def _live_contexts(now):
    return Q(expiration_date__isnull=True) | Q(expiration_date__gt=now)


def chat_contexts_active(*, session: ChatSession) -> list[ChatContext]:
    """The session's standing context that has not expired."""
    if getattr(session, "has_contexts", True) is False:  # chat_session_for_turn already looked
        return []
    return list(session.contexts.filter(_live_contexts(timezone.now())))


# The history window's rows (newest first, as JSON) read in the session's own query: one
# round trip fewer on every turn. Per database, since JSON aggregation is not portable.
_HISTORY_ROWS_SQL = {
    "sqlite": (
        "(SELECT json_group_array(json_array(m.role, m.content, m.token_count)) FROM"
        " (SELECT role, content, token_count FROM {messages} WHERE session_id = {sessions}.id"
        " AND is_complete AND role <> %s ORDER BY created_at DESC, id DESC LIMIT %s) m)"
    ),
    "postgresql": (
        "(SELECT json_agg(json_build_array(m.role, m.content, m.token_count) ORDER BY m.created_at DESC, m.id DESC)"
        " FROM (SELECT role, content, token_count, created_at, id FROM {messages} WHERE session_id = {sessions}.id"
        " AND is_complete AND role <> %s ORDER BY created_at DESC, id DESC LIMIT %s) m)"
    ),
}


def chat_session_for_turn(*, user, session_id) -> ChatSession:
    """The user's session (Http404 otherwise) with, in the same query, whether it has live
    standing context, its recent history, and whether the user has any processed document to
    search (`has_material`; none means the turn skips retrieval: no query embedding, no vector
    or full-text search): a chat turn's first round trip."""
    contexts = ChatContext.objects.filter(_live_contexts(timezone.now()), session=OuterRef("pk"))
    sessions = ChatSession.objects.select_related("course").annotate(
        has_contexts=Exists(contexts), has_material=Exists(searchable_documents(user=user))
    )
    sql = _HISTORY_ROWS_SQL.get(connection.vendor)
    if sql:
        sql = sql.format(messages=Message._meta.db_table, sessions=ChatSession._meta.db_table)
        sessions = sessions.annotate(history_rows=RawSQL(sql, [Message.Role.SYSTEM, HISTORY_MAX_MESSAGES]))
    return chat_session_get(user=user, session_id=session_id, queryset=sessions)


def turn_history(*, session: ChatSession, token_budget: int) -> list[dict[str, str]]:
    """history_window for a turn, from the rows chat_session_for_turn read with the session
    when it did (else one query)."""
    if "history_rows" not in session.__dict__:
        return history_window(session=session, token_budget=token_budget, max_messages=HISTORY_MAX_MESSAGES)
    rows = session.history_rows
    rows = json.loads(rows) if isinstance(rows, str) else rows  # SQLite sends text, psycopg parsed JSON
    return history_from_rows(rows or [], token_budget=token_budget)


# --- the web-chat dialect: message/response pairs -------------------------------------------------
@dataclass
class ChatPair:
    id: uuid.UUID
    message: str
    response: str | None
    created_at: datetime
    is_complete: bool


def _pair(question: Message) -> ChatPair:
    try:
        reply = question.reply
    except Message.DoesNotExist:
        reply = None
    return ChatPair(
        id=question.pk,
        message=question.content,
        response=reply.content if reply else None,
        created_at=question.created_at,
        is_complete=bool(reply and reply.is_complete),
    )


def chat_pair_queryset(*, session: ChatSession) -> QuerySet[Message]:
    """User messages with their replies joined (one query per page, no N+1)."""
    return session.messages.filter(role=Message.Role.USER).select_related("reply").order_by("created_at", "id")


def chat_pairs(messages) -> list[ChatPair]:
    return [_pair(m) for m in messages]


def chat_pair_get(*, user, session_id, pair_id) -> ChatPair:
    session = chat_session_get(user=user, session_id=session_id)
    question = chat_pair_queryset(session=session).filter(pk=_uuid(pair_id)).first()
    if question is None:
        raise Http404("No chat matches the given query.")
    return _pair(question)


def chat_session_list_for_pairs(*, user) -> QuerySet[ChatSession]:
    """The web-chat dialect sessions, with the columns its session shape shows (not the system
    prompt, settings and summary columns); chat.pairs.sessions_attach_pairs gives a page of them their `chats`."""
    return chat_sessions_owned(user=user).only("id", "title", "created_at")


# --- the canonical API stats ----------------------------------------------------------------------
def chat_stats(*, user) -> dict:
    """Chat statistics computed from the user's stored sessions and messages.

    learning_insights, each counted over the user's own chats:
    - concepts_discussed: distinct concepts the tutor's answers drew on — the section names
      (or, without sections, the document titles) of the passages cited in complete answers;
    - problems_solved: user messages of type "problem" that got a complete answer;
    - questions_answered: user messages of type "question" that got a complete answer;
    - knowledge_gaps_identified: questions whose answer found no matching passage in the
      student's material — topics they asked about that their notes do not cover yet.
    """
    sessions = ChatSession.objects.filter(owner=user)
    totals = sessions.aggregate(
        total_chats=Count("id"),
        active_chats=Count("id", filter=Q(status=ChatSession.Status.ACTIVE)),
        favorite_chats=Count("id", filter=Q(is_favorite=True)),
        pinned_chats=Count("id", filter=Q(is_pinned=True)),
    )
    messages = Message.objects.filter(session__owner=user)
    message_totals = messages.aggregate(
        total_messages=Count("id"),
        total_tokens_used=Sum("token_count"),
        average_response_time_ms=Avg("processing_time_ms", filter=Q(role=Message.Role.ASSISTANT)),
    )
    by_type = list(sessions.values("chat_type").annotate(count=Count("id")).order_by("-count", "chat_type"))
    answered = messages.filter(role=Message.Role.USER, reply__is_complete=True)
    insights = answered.aggregate(
        problems_solved=Count("id", filter=Q(message_type=Message.MessageType.PROBLEM)),
        questions_answered=Count("id", filter=Q(message_type=Message.MessageType.QUESTION)),
        knowledge_gaps_identified=Count("id", filter=Q(reply__context_used__matched=False)),
    )
    concepts: set[str] = set()
    for names in messages.filter(role=Message.Role.ASSISTANT, is_complete=True).values_list(
        "context_used__course_concepts", flat=True
    ):
        concepts.update(str(n).lower() for n in (names or []))
    average = message_totals["average_response_time_ms"]
    return {
        **totals,
        "total_messages": message_totals["total_messages"],
        "total_tokens_used": message_totals["total_tokens_used"] or 0,
        "average_response_time_ms": round(average) if average is not None else 0,
        "by_type": by_type,
        "learning_insights": {"concepts_discussed": len(concepts), **insights},
    }


def tutoring_session_list(*, user) -> QuerySet[TutoringSession]:
    return TutoringSession.objects.filter(user=user).select_related("course", "chat")
