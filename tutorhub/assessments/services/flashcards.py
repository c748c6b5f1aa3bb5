"""Flashcard use cases: create/update, review (scheduling + review log + learner event)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from tutorhub.assessments.models import Flashcard, FlashcardReview, SchedulerSettings
from tutorhub.assessments.schedulers import (
    DEFAULT_ALGORITHM,
    DEFAULT_DESIRED_RETENTION,
    PASSING_QUALITY,
    QUALITY_TO_FSRS_RATING,
    review_all,
)
from tutorhub.assessments.selectors import scheduler_settings_for
from tutorhub.core.exceptions import ServiceError
from tutorhub.learning.services import learner_event_record

EDITABLE_FIELDS = ("course", "question", "answer", "explanation", "difficulty_level", "tags", "status")


def _clean_tags(tags) -> list[str]:
    return list(dict.fromkeys(str(t).strip()[:50] for t in (tags or []) if str(t).strip()))[:20]


@transaction.atomic
def flashcard_create(
    *,
    user,
    question: str,
    answer: str,
    course=None,
    explanation: str = "",
    difficulty_level: str = "medium",
    tags: list[str] | None = None,
    status: str = Flashcard.Status.ACTIVE,
    assessment=None,
    source_chunk_id=None,
    confidence: float | None = None,
) -> Flashcard:
    settings = scheduler_settings_for(user=user, course_id=getattr(course, "pk", None))
    return Flashcard.objects.create(
        user=user,
        course=course,
        question=question,
        answer=answer,
        explanation=explanation,
        difficulty_level=difficulty_level,
        tags=_clean_tags(tags),
        status=status,
        assessment=assessment,
        source_chunk_id=source_chunk_id,
        confidence=confidence,
        scheduler=settings.algorithm if settings else DEFAULT_ALGORITHM,
    )


@transaction.atomic
def flashcard_update(*, flashcard: Flashcard, **fields) -> Flashcard:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ServiceError(f"Cannot change {', '.join(sorted(unknown))}.")
    if "tags" in fields:
        fields["tags"] = _clean_tags(fields["tags"])
    for name, value in fields.items():
        setattr(flashcard, name, value)
    flashcard.save(update_fields=[*fields, "updated_at"])
    return flashcard


@transaction.atomic
def flashcard_delete(*, flashcard: Flashcard) -> None:
    flashcard.delete()


def _topic(card: Flashcard) -> str:
    if card.tags:
        return card.tags[0]
    if card.assessment_id and card.assessment.topic:
        return card.assessment.topic
    return card.course.name if card.course_id else "general"


@transaction.atomic
def flashcard_review(
    *,
    flashcard: Flashcard,
    quality_response: int,
    response_time_seconds: int | None = None,
    user_answer: str = "",
    notes: str = "",
    reviewed_at: datetime | None = None,
) -> FlashcardReview:
    """Grade one recall (0-5), reschedule the card with the student's scheduler, keep the review
    log, and record learner evidence. Returns the review; `review.flashcard` is the updated card.
    Raises ServiceError for an archived card."""
    card = (
        Flashcard.objects.select_for_update(of=("self",))
        .select_related("course", "assessment")
        .get(pk=flashcard.pk)
    )
    if card.status != Flashcard.Status.ACTIVE:
        raise ServiceError("Archived flashcards cannot be reviewed; restore the card first.", error_code="FLASHCARD_ARCHIVED")
    reviewed_at = reviewed_at or timezone.now()
    settings = scheduler_settings_for(user=card.user, course_id=card.course_id)
    algorithm = settings.algorithm if settings else DEFAULT_ALGORITHM
    retention = settings.desired_retention if settings else DEFAULT_DESIRED_RETENTION
    duration_ms = response_time_seconds * 1000 if response_time_seconds is not None else None

    outcomes = review_all(
        card.scheduler_state, quality=quality_response, reviewed_at=reviewed_at,
        duration_ms=duration_ms, desired_retention=retention,
    )
    chosen = outcomes[algorithm]
    elapsed = (reviewed_at - card.last_reviewed_at).total_seconds() / 86400 if card.last_reviewed_at else None
    passed = quality_response >= PASSING_QUALITY

    card.scheduler = algorithm
    card.scheduler_state = {name: outcome.state for name, outcome in outcomes.items()}
    card.next_review_date = chosen.due
    card.interval_days = chosen.interval_days
    # Ease is SM-2's notion; SM-2 runs on every review, so the seed's field is always current.
    card.ease_factor = outcomes["sm2"].state["ease_factor"]
    card.total_reviews += 1
    card.correct_reviews += int(passed)
    # A lapse is forgetting a card that had been recalled before.
    card.lapses += int(not passed and card.correct_reviews > 0)
    card.success_rate = round(card.correct_reviews / card.total_reviews, 4)
    card.last_quality = quality_response
    card.last_reviewed_at = reviewed_at
    card.save()

    review = FlashcardReview.objects.create(
        flashcard=card,
        user=card.user,
        quality_response=quality_response,
        fsrs_rating=int(QUALITY_TO_FSRS_RATING[quality_response]),
        response_time_seconds=response_time_seconds,
        user_answer=user_answer,
        notes=notes,
        scheduler=algorithm,
        elapsed_days=round(elapsed, 4) if elapsed is not None else None,
        interval_days=chosen.interval_days,
        next_review_date=chosen.due,
        state_after=card.scheduler_state,
        reviewed_at=reviewed_at,
    )
    learner_event_record(
        user=card.user,
        kind="flashcard_review",
        topic=_topic(card),
        score=quality_response / 5,
        subject=card.course.subject_area if card.course_id else "",
        duration_seconds=response_time_seconds or 0,
        source=f"assessments.FlashcardReview:{review.pk}",
        occurred_at=reviewed_at,
    )
    return review


@transaction.atomic
def scheduler_settings_update(
    *, user, course=None, algorithm: str, desired_retention: float | None = None
) -> SchedulerSettings:
    """Choose the scheduler for one course's cards (a deck) or, without a course, all of a student's
    cards. Applies from each card's next review: every scheduler already tracks every card."""
    obj, _ = SchedulerSettings.objects.update_or_create(
        user=user,
        course=course,
        defaults={
            "algorithm": algorithm,
            "desired_retention": desired_retention if desired_retention is not None else DEFAULT_DESIRED_RETENTION,
        },
    )
    cards = Flashcard.objects.filter(user=user)
    if course is not None:
        cards = cards.filter(course=course)
    else:  # a deck's own setting still wins over the new default
        decks = SchedulerSettings.objects.filter(user=user, course__isnull=False).values("course_id")
        cards = cards.exclude(course_id__in=decks)
    cards.update(scheduler=algorithm)
    return obj
