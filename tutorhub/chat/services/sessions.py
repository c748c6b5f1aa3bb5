"""Chat use cases: sessions, context, tutoring sessions (the tutor's turn is in .tutor)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from tutorhub.ai import speech
from tutorhub.chat.models import ChatContext, ChatSession, Message, TutoringSession
from tutorhub.chat.selectors import chat_session_get
from tutorhub.core.exceptions import Conflict
from tutorhub.courses.selectors import course_list_visible
from tutorhub.learning.models import LearnerEvent
from tutorhub.learning.services import learner_event_record

DEFAULT_TITLE = "New Chat"


def _visible_course(*, user, course):
    """Courses may be attached only if the user can see them (else 404, like any other id)."""
    if course is None:
        return None
    course_id = getattr(course, "pk", course)
    return get_object_or_404(course_list_visible(user=user), pk=course_id)


def chat_session_create(  # one INSERT, atomic by itself: no BEGIN/COMMIT round trips around it
    *,
    user,
    title: str = DEFAULT_TITLE,
    course=None,
    chat_type: str = ChatSession.ChatType.GENERAL,
    ai_model: str = "",
    temperature: float = 0.7,
    system_prompt: str = "",
    is_pinned: bool = False,
    is_favorite: bool = False,
) -> ChatSession:
    session = ChatSession(
        owner=user,
        title=(title or DEFAULT_TITLE).strip()[:200] or DEFAULT_TITLE,
        course=_visible_course(user=user, course=course),
        chat_type=chat_type,
        ai_model=ai_model or "",
        temperature=temperature,
        system_prompt=system_prompt or "",
        is_pinned=is_pinned,
        is_favorite=is_favorite,
    )
    # Field checks only: the owner is the caller and the course was just checked
    # (_visible_course), and the id is a fresh uuid4, so the foreign-key and uniqueness checks
    # would be two more SELECTs in front of every new chat's first token.
    session.full_clean(exclude=["owner", "course"], validate_unique=False)
    session.save(force_insert=True)
    return session


UPDATABLE_FIELDS = ("title", "course", "chat_type", "ai_model", "temperature", "system_prompt", "status", "is_pinned", "is_favorite")


@transaction.atomic
def chat_session_update(*, session: ChatSession, user, **changes: Any) -> ChatSession:
    for name, value in changes.items():
        if name not in UPDATABLE_FIELDS:
            raise TypeError(f"chat_session_update cannot change {name!r}")
        if name == "course":
            value = _visible_course(user=user, course=value)
        setattr(session, name, value)
    session.full_clean()
    session.save()
    return session


def chat_session_rename(*, session: ChatSession, title: str) -> ChatSession:
    return chat_session_update(session=session, user=session.owner, title=title)


def chat_session_touch(*, session: ChatSession, **fields) -> None:
    """Set `fields` (last_message_at, updated_at, title) on the session row and on `session`, with
    one UPDATE that leaves the session's other columns alone (a turn holds a copy read earlier)."""
    ChatSession.objects.filter(pk=session.pk).update(**fields)
    for name, value in fields.items():
        setattr(session, name, value)


@transaction.atomic
def chat_session_delete(*, session: ChatSession) -> None:
    session.delete()


@transaction.atomic
def chat_session_get_or_create(*, user, session_id=None, title_hint: str = "") -> ChatSession:
    """The user's session `session_id`, or a new one when it is None (token-chat dialect, WebSocket).
    Raises Http404 for an unknown id or another user's session."""
    if session_id:
        return chat_session_get(user=user, session_id=session_id)
    return chat_session_create(user=user, title=title_from_text(title_hint) if title_hint else DEFAULT_TITLE)


@transaction.atomic
def chat_last_exchange_delete(*, session: ChatSession) -> None:
    """Remove the session's last question and its answer (regenerate, or edit the last
    question: the new turn takes their place)."""
    last = session.messages.filter(role=Message.Role.USER).order_by("-created_at", "-id").first()
    if last is not None:
        Message.objects.filter(Q(pk=last.pk) | Q(reply_to=last)).delete()


def title_from_text(text: str, limit: int = 60) -> str:
    """A session title from the first question: its first line, cut at a word boundary."""
    line = " ".join((text or "").split())
    if len(line) <= limit:
        return line or DEFAULT_TITLE
    return line[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


@transaction.atomic
def chat_context_add(
    *,
    session: ChatSession,
    context_type: str = ChatContext.ContextType.NOTE,
    content: str = "",
    document_ids: list | None = None,
    priority: str = ChatContext.Priority.MEDIUM,
    expiration_date: datetime | None = None,
) -> ChatContext:
    """Standing context for the session's later answers: `content` joins the system prompt and
    `document_ids` narrow retrieval, until `expiration_date`."""
    context = ChatContext(
        session=session,
        context_type=context_type,
        content=content or "",
        document_ids=[str(d) for d in (document_ids or [])],
        priority=priority,
        expiration_date=expiration_date,
    )
    context.full_clean()
    context.save()
    return context


# --- tutoring sessions (canonical API) ----------------------------------------------------------
@transaction.atomic
def tutoring_session_create(
    *,
    user,
    title: str,
    course=None,
    session_type: str = TutoringSession.SessionType.PRACTICE,
    learning_objectives: list[str] | None = None,
    estimated_duration_minutes: int = 30,
    difficulty_level: str = TutoringSession.Difficulty.INTERMEDIATE,
) -> TutoringSession:
    """A tutoring session and the tutoring chat it runs in (its objectives steer the tutor)."""
    course = _visible_course(user=user, course=course)
    objectives = [str(o).strip() for o in (learning_objectives or []) if str(o).strip()]
    prompt = ""
    if objectives:
        prompt = "This is a tutoring session. Learning objectives: " + "; ".join(objectives) + "."
    chat = chat_session_create(
        user=user, title=title, course=course, chat_type=ChatSession.ChatType.TUTORING, system_prompt=prompt
    )
    tutoring = TutoringSession(
        user=user,
        course=course,
        chat=chat,
        title=title,
        session_type=session_type,
        learning_objectives=objectives,
        estimated_duration_minutes=estimated_duration_minutes,
        difficulty_level=difficulty_level,
    )
    tutoring.full_clean()
    tutoring.save()
    return tutoring


@transaction.atomic
def tutoring_session_start(*, tutoring: TutoringSession) -> TutoringSession:
    if tutoring.status != TutoringSession.Status.PLANNED:
        raise Conflict(f"This session is already {tutoring.get_status_display().lower()}.")
    tutoring.status = TutoringSession.Status.IN_PROGRESS
    tutoring.started_at = timezone.now()
    tutoring.save(update_fields=["status", "started_at", "updated_at"])
    return tutoring


@transaction.atomic
def tutoring_session_complete(
    *,
    tutoring: TutoringSession,
    objectives_achieved: list[str] | None = None,
    concepts_mastered: list[str] | None = None,
    areas_for_improvement: list[str] | None = None,
    user_satisfaction: int | None = None,
    learning_effectiveness: int | None = None,
    session_notes: str = "",
) -> TutoringSession:
    """Close a started session and record the study time per mastered concept for the learner model."""
    if tutoring.status != TutoringSession.Status.IN_PROGRESS:
        raise Conflict("Only a session in progress can be completed; start it first.")
    now = timezone.now()
    seconds = int((now - tutoring.started_at).total_seconds())
    tutoring.status = TutoringSession.Status.COMPLETED
    tutoring.completed_at = now
    tutoring.actual_duration_minutes = max(0, seconds // 60)
    tutoring.objectives_achieved = list(objectives_achieved or [])
    tutoring.concepts_mastered = list(concepts_mastered or [])
    tutoring.areas_for_improvement = list(areas_for_improvement or [])
    tutoring.user_satisfaction = user_satisfaction
    tutoring.learning_effectiveness = learning_effectiveness
    tutoring.session_notes = session_notes or ""
    tutoring.full_clean()
    tutoring.save()
    concepts = tutoring.concepts_mastered or [tutoring.title]
    subject = tutoring.course.subject_area if tutoring.course_id else ""
    for concept in concepts:
        learner_event_record(
            user=tutoring.user,
            kind=LearnerEvent.Kind.STUDY,
            topic=str(concept),
            subject=subject,
            # The session's time is split over its concepts so totals are not multiplied.
            duration_seconds=seconds // len(concepts),
            source=f"chat.TutoringSession:{tutoring.pk}",
            occurred_at=now,
        )
    return tutoring


def message_audio(*, message: Message) -> tuple[bytes, str]:
    """Speak an assistant message (the web app's "hear this answer"). Raises ProviderError."""
    return speech["default"].synthesize(message.content)
