"""Reads for the web pages."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from tutorhub.assessments.models import Flashcard, QuizAttempt, QuizResponse
from tutorhub.assessments.selectors import attempt_list, attempt_responses, flashcard_list
from tutorhub.chat.models import ChatSession
from tutorhub.chat.selectors import chat_pair_queryset, chat_pairs, chat_session_list
from tutorhub.courses.models import Course
from tutorhub.knowledge.models import Chunk, Document
from tutorhub.knowledge.selectors import document_list_visible

# A conversation page shows at most this many recent exchanges (the API pages through all).
HISTORY_LIMIT = 500


def chat_history(*, session: ChatSession) -> list[dict]:
    """The web-chat dialect's message/response pairs, oldest first, each with its answer's id (for the
    audio button) and citations. One query whatever the length (replies are joined)."""
    questions = list(chat_pair_queryset(session=session).reverse()[:HISTORY_LIMIT])
    questions.reverse()
    history = []
    for question, pair in zip(questions, chat_pairs(questions), strict=True):
        reply = getattr(question, "reply", None) if pair.response is not None else None
        history.append(
            {
                "id": str(pair.id),
                "message": pair.message,
                "response": pair.response,
                "created_at": pair.created_at.isoformat().replace("+00:00", "Z"),
                "response_id": str(reply.pk) if reply else None,
                "citations": list((reply.context_used or {}).get("citations") or []) if reply else [],
                "is_complete": pair.is_complete,
            }
        )
    return history


def sidebar_sessions(*, user, limit: int) -> list[ChatSession]:
    """The chat page's sidebar: the user's latest sessions, id and title only."""
    return list(chat_session_list(user=user).only("id", "title")[:limit])


def upload_course_choices(*, user) -> QuerySet[Course]:
    """Courses offered on the upload page: those the user owns or teaches (the ones the
    knowledge service lets them add documents to)."""
    return (
        Course.objects.filter(Q(owner=user) | Q(groups__teacher=user))
        .distinct()
        .only("id", "name")
        .order_by("name")
    )



def passage_get(*, user, chunk_id: int) -> Chunk:
    """A chunk of a document `user` may see, with its document's name; Http404 otherwise."""
    return get_object_or_404(
        Chunk.objects.filter(document__in=document_list_visible(user=user))
        .select_related("document")
        .only("id", "text", "page", "section", "heading_path", "document__id", "document__name"),
        pk=chunk_id,
    )


def document_get_for_page(*, user, document_id) -> Document:
    """A document `user` may see, for its page (extracted text included); Http404 otherwise."""
    return get_object_or_404(document_list_visible(user=user).select_related("course"), pk=document_id)


def scored_attempts(*, user, limit: int) -> list[QuizAttempt]:
    """The user's latest `limit` completed, scored attempts, oldest first (the progress chart)."""
    attempts = (
        attempt_list(user=user)
        .filter(status=QuizAttempt.Status.COMPLETED)
        .exclude(Q(percentage_score__isnull=True) | Q(completed_at__isnull=True))
        .order_by("-completed_at")[:limit]
    )
    return list(attempts)[::-1]


def generation_documents(*, user) -> list[Document]:
    """Processed documents a deck or quiz can be generated from (the study pages' picker)."""
    documents = document_list_visible(user=user).filter(processing_status=Document.Status.COMPLETED)
    return list(documents.only("id", "name").order_by("-created_at")[:100])


def active_flashcards(*, user, limit: int) -> list[Flashcard]:
    """The user's newest active cards, with only what the flashcards page lists."""
    cards = (
        flashcard_list(user=user).filter(status=Flashcard.Status.ACTIVE)
        .select_related(None).only("id", "question", "next_review_date", "total_reviews").order_by("-created_at")
    )
    return list(cards[:limit])


def recent_attempts(*, user, limit: int) -> list[QuizAttempt]:
    """The user's latest `limit` quiz attempts, newest first (the quizzes page)."""
    return list(attempt_list(user=user).order_by("-started_at")[:limit])


def attempt_saved_responses(*, attempt: QuizAttempt) -> dict[str, QuizResponse]:
    """The attempt's saved answers by question id, for a page that shows the attempt running."""
    return {str(r.question_id): r for r in attempt_responses(attempt=attempt)}
