"""Reads for assessments, always scoped to the caller."""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta

from django.db.models import Avg, Case, CharField, Count, F, Prefetch, Q, QuerySet, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from tutorhub.assessments.models import (
    Assessment,
    Flashcard,
    FlashcardReview,
    Option,
    Question,
    Quiz,
    QuizAttempt,
    QuizResponse,
    SchedulerSettings,
)
from tutorhub.assessments.schedulers import (
    DEFAULT_ALGORITHM,
    DEFAULT_DESIRED_RETENTION,
    RATING_BUTTONS,
    preview_intervals,
)
from tutorhub.core.permissions import is_admin
from tutorhub.core.querysets import related_count
from tutorhub.courses.selectors import course_ids_visible
from tutorhub.learning.selectors import user_tz

# Mastery levels, from a card's real review history (the canonical API's `by_mastery`):
#   new        never reviewed;
#   mastered   the last recall succeeded and the scheduler now waits three weeks or more;
#   difficult  forgotten at least twice, or under 60% success after three or more reviews;
#   learning   everything else that has been reviewed.
MASTERED_INTERVAL_DAYS = 21
DIFFICULT_LAPSES = 2
DIFFICULT_SUCCESS_RATE = 0.6
MASTERY_LEVELS = ["new", "learning", "difficult", "mastered"]


@functools.cache
def mastery_level_expression() -> Case:
    """A card's mastery level (above), as one shared expression: a fresh one per request was
    resolved from scratch on every card list (~0.25 ms); annotate() resolves a copy of it."""
    return Case(
        When(total_reviews=0, then=Value("new")),
        When(Q(interval_days__gte=MASTERED_INTERVAL_DAYS, last_quality__gte=3), then=Value("mastered")),
        When(
            Q(lapses__gte=DIFFICULT_LAPSES) | Q(total_reviews__gte=3, success_rate__lt=DIFFICULT_SUCCESS_RATE),
            then=Value("difficult"),
        ),
        default=Value("learning"),
        output_field=CharField(),
    )


# What a generated card's or question's `source` shows of its chunk and document, read as columns
# of the item's own row (with_chunk_source). Selecting the chunk and document rows instead built two
# model instances per item, and carried their other columns (a document's whole extracted_text,
# before they were deferred: ~50 ms of CPU for a page of 20 cards from 300 KB documents).
_SOURCE_COLUMNS = {
    "source_document_id": "source_chunk__document_id",
    "source_document_title": "source_chunk__document__name",
    "source_page": "source_chunk__page",
    "source_section": "source_chunk__section",
}


def with_chunk_source(items: QuerySet) -> QuerySet:
    """Cards or questions with what item_source() shows of their source chunk (a LEFT JOIN: the
    source is optional)."""
    return items.annotate(**{name: F(path) for name, path in _SOURCE_COLUMNS.items()})


def item_source(item) -> dict | None:
    """Where a generated card or question came from, so a student or teacher can check it: from
    the columns with_chunk_source() read with it, else (an item read otherwise) from its chunk."""
    if not item.source_chunk_id:
        return None
    if "source_page" in item.__dict__:
        document_id, title = item.source_document_id, item.source_document_title
        page, section = item.source_page, item.source_section
    else:
        chunk = item.source_chunk
        document_id, page, section = chunk.document_id, chunk.page, chunk.section
        title = chunk.document.name if document_id else ""
    return {
        "chunk_id": str(item.source_chunk_id),
        "document_id": str(document_id) if document_id else None,
        "document_title": title or "",
        "page": page,
        "section": section or "",
    }


def flashcard_list(*, user) -> QuerySet[Flashcard]:
    return with_chunk_source(Flashcard.objects.filter(user=user)).annotate(mastery_level=mastery_level_expression())


def flashcard_due(*, user, course=None, limit: int | None = None, now: datetime | None = None) -> QuerySet[Flashcard]:
    """Active cards due now (new cards count as due), most overdue first."""
    now = now or timezone.now()
    qs = flashcard_list(user=user).filter(status=Flashcard.Status.ACTIVE).filter(
        Q(next_review_date__lte=now) | Q(next_review_date__isnull=True)
    )
    if course is not None:
        qs = qs.filter(course=course)
    # Never-reviewed cards first (both backends sort NULL differently by default), then most overdue.
    qs = qs.order_by(F("next_review_date").asc(nulls_first=True), "created_at")
    return qs[:limit] if limit else qs


def flashcard_stats(*, user, course=None, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    qs = Flashcard.objects.filter(user=user)
    if course is not None:
        qs = qs.filter(course=course)
    active = Q(status=Flashcard.Status.ACTIVE)
    totals = qs.aggregate(
        total=Count("id"),
        active=Count("id", filter=active),
        due=Count("id", filter=active & (Q(next_review_date__lte=now) | Q(next_review_date__isnull=True))),
        average_success_rate=Avg("success_rate", filter=Q(total_reviews__gt=0)),
    )
    by_difficulty = {row["difficulty_level"]: row["n"] for row in qs.values("difficulty_level").annotate(n=Count("id"))}
    by_mastery = {
        row["level"]: row["n"]
        for row in qs.annotate(level=mastery_level_expression()).values("level").annotate(n=Count("id"))
    }
    return {
        "total_flashcards": totals["total"],
        "active_flashcards": totals["active"],
        "due_flashcards": totals["due"],
        "mastered_flashcards": by_mastery.get("mastered", 0),
        "average_success_rate": round(totals["average_success_rate"] or 0.0, 4),
        "by_difficulty": [
            {"difficulty_level": level, "count": by_difficulty.get(level, 0)} for level in ("easy", "medium", "hard")
        ],
        "by_mastery": [{"level": level, "count": by_mastery.get(level, 0)} for level in MASTERY_LEVELS],
    }


def scheduler_settings_for(*, user, course_id=None) -> SchedulerSettings | None:
    """The course ("deck") setting wins over the student's default."""
    rows = SchedulerSettings.objects.filter(Q(course_id=course_id) | Q(course__isnull=True), user=user)
    return _settings_for_course(list(rows), course_id)


def _settings_for_course(rows: list[SchedulerSettings], course_id) -> SchedulerSettings | None:
    matching = sorted((s for s in rows if s.course_id in (course_id, None)), key=lambda s: s.course_id is None)
    return matching[0] if matching else None


def flashcard_review_queue(*, user, limit: int, now: datetime | None = None) -> list[Flashcard]:
    """The due queue for the review page: `flashcard_due` with, on each card, `next_intervals`
    [(label, quality, interval_days)] from the scheduler that will grade it (two queries,
    whatever the number of cards or decks)."""
    now = now or timezone.now()
    cards = list(flashcard_due(user=user, limit=limit, now=now))
    rows = list(SchedulerSettings.objects.filter(user=user))
    for card in cards:
        chosen = _settings_for_course(rows, card.course_id)
        algorithm = chosen.algorithm if chosen else DEFAULT_ALGORITHM
        intervals = preview_intervals(
            (card.scheduler_state or {}).get(algorithm), algorithm=algorithm, reviewed_at=now,
            desired_retention=chosen.desired_retention if chosen else DEFAULT_DESIRED_RETENTION,
        )
        card.next_intervals = [(label, quality, intervals[quality]) for label, quality in RATING_BUTTONS]
    return cards


def flashcard_due_forecast(*, user, days: int, today: date) -> list[tuple[date, int]]:
    """[(day, active cards falling due that day)] for `days` days from `today` (the student's
    time zone); cards already overdue or never reviewed count on `today`."""
    tz = user_tz(user)
    end = datetime.combine(today + timedelta(days=days), datetime.min.time(), tzinfo=tz)
    active = Flashcard.objects.filter(user=user, status=Flashcard.Status.ACTIVE)
    counts = dict(
        active.filter(next_review_date__lt=end, next_review_date__isnull=False)
        .annotate(day=TruncDate("next_review_date", tzinfo=tz))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    overdue = sum(n for day, n in counts.items() if day < today) + active.filter(next_review_date__isnull=True).count()
    return [(day, counts.get(day, 0) + (overdue if day == today else 0)) for day in (today + timedelta(days=i) for i in range(days))]


# --- quizzes -------------------------------------------------------------------------------
def _text_matches(concepts: list[str]) -> Q:
    q = Q()
    for concept in concepts:
        q |= Q(question__icontains=concept) | Q(answer__icontains=concept) | Q(tags__icontains=concept)
        q |= Q(tags__icontains=concept.replace(" ", "_"))  # tags are often snake_case
    return q


def flashcard_resources(*, user, concepts: list[str], difficulty: str) -> list[dict]:
    """The student's cards on `concepts` as one study resource (none when no card matches): the
    learning app's resource source for goals and weak topics (registered by AssessmentsConfig.ready)."""
    cards = Flashcard.objects.filter(user=user).exclude(status=Flashcard.Status.ARCHIVED).filter(_text_matches(concepts))
    count = cards.count()
    if not count:
        return []
    ids = list(cards.values_list("pk", flat=True)[:50])
    return [
        {
            "type": "flashcards",
            "title": f"{count} flashcard(s) on {', '.join(concepts[:3])}",
            "url": "/api/v1/assessments/flashcards/due/",
            # ~30 seconds per card is how long a spaced-repetition review takes on average.
            "estimated_time": f"{max(1, round(count * 0.5))} minutes",
            "difficulty": difficulty,
            "flashcard_ids": [str(i) for i in ids],
        }
    ]


def quiz_list_visible(*, user) -> QuerySet[Quiz]:
    """Quizzes a user may take: their own and those of courses they can see."""
    qs = Quiz.objects.all()
    if not is_admin(user):
        qs = qs.filter(Q(owner=user) | Q(course__in=course_ids_visible(user=user)))
    return qs.annotate(question_count=related_count(Question, "quiz")).order_by("-created_at")


def quiz_list_authored(*, user) -> QuerySet[Quiz]:
    if is_admin(user):
        return Quiz.objects.all()
    return Quiz.objects.filter(Q(owner=user) | Q(course__owner=user) | Q(course__groups__teacher=user))


def quiz_is_authored(*, user, quiz: Quiz) -> bool:
    """Whether `user` may change `quiz` and see its answers (its owner, the course's owner or teacher)."""
    return quiz_list_authored(user=user).filter(pk=quiz.pk).exists()


def quiz_attempt_list(*, quiz: Quiz) -> QuerySet[QuizAttempt]:
    """Every student's attempts at `quiz`, newest first (its authors' results view)."""
    return quiz.attempts.select_related("quiz", "user").order_by("-started_at")


def flashcards_tagged(cards: QuerySet[Flashcard], *, tags: list[str]) -> QuerySet[Flashcard]:
    """The cards among `cards` carrying every one of `tags`. A JSON text match on the quoted tag:
    works on SQLite and PostgreSQL alike."""
    for tag in tags:
        cards = cards.filter(tags__icontains=f'"{tag}"')
    return cards


def flashcard_review_list(*, flashcard: Flashcard) -> QuerySet[FlashcardReview]:
    """The card's review log, newest first (the model's ordering)."""
    return flashcard.reviews.all()


def questions_with_options(*, quiz: Quiz) -> QuerySet[Question]:
    return with_chunk_source(quiz.questions.all()).prefetch_related(
        Prefetch("options", queryset=Option.objects.order_by("order"))
    )


def attempt_list(*, user) -> QuerySet[QuizAttempt]:
    return QuizAttempt.objects.filter(user=user).select_related("quiz")


def attempt_number(*, attempt: QuizAttempt) -> int:
    """Which of its user's attempts at the quiz this is, counting from 1."""
    return QuizAttempt.objects.filter(
        quiz_id=attempt.quiz_id, user_id=attempt.user_id, started_at__lte=attempt.started_at
    ).count()


def attempt_responses(*, attempt: QuizAttempt) -> QuerySet[QuizResponse]:
    return attempt.responses.all()


def assessment_list(*, user) -> QuerySet[Assessment]:
    return Assessment.objects.filter(owner=user).select_related("course")


def attempt_results_visible(*, user, attempt: QuizAttempt) -> bool:
    """Answers are shown only after completion, and then only if the quiz allows it (its authors
    always see them)."""
    if attempt.status != QuizAttempt.Status.COMPLETED:
        return False
    return attempt.quiz.show_results_immediately or quiz_list_authored(user=user).filter(pk=attempt.quiz_id).exists()


def _answer_text(question: Question, response) -> str:
    if response is None:
        return ""
    if question.question_type == Question.Type.SHORT_ANSWER:
        return response.text_answer
    chosen = set(response.selected_options)
    return ", ".join(o.text for o in question.options.all() if str(o.pk) in chosen)


def _correct_text(question: Question) -> str:
    if question.question_type == Question.Type.SHORT_ANSWER:
        return question.correct_text.split("|")[0]
    return ", ".join(o.text for o in question.options.all() if o.is_correct)


def attempt_result(*, attempt: QuizAttempt, reveal: bool) -> dict:
    """The canonical API's completion shape. Without `reveal`, per-question grades, correct answers and
    explanations are left out."""
    questions = {
        str(q.pk): q
        for q in with_chunk_source(Question.objects.filter(pk__in=attempt.questions_order))
        .prefetch_related(Prefetch("options", queryset=Option.objects.order_by("order")))
    }
    responses = {str(r.question_id): r for r in attempt.responses.all()}
    details = []
    for qid in attempt.questions_order:
        question = questions.get(qid)
        if question is None:
            continue
        response = responses.get(qid)
        row = {
            "question_id": question.pk,
            "question": question.question_text,
            "question_type": question.question_type,
            "user_answer": _answer_text(question, response),
            "points_possible": question.points,
        }
        if reveal:
            row.update(
                correct_answer=_correct_text(question),
                is_correct=bool(response and response.is_correct),
                points_earned=(response.points_earned or 0.0) if response else 0.0,
                explanation=question.explanation,
                concept=question.concept,
                source=item_source(question),
            )
        details.append(row)
    taken = (attempt.completed_at - attempt.started_at).total_seconds() / 60
    return {
        "attempt_id": attempt.pk,
        "quiz_id": attempt.quiz_id,
        "status": attempt.status,
        "score": attempt.score or 0.0,
        "max_score": attempt.max_score or 0.0,
        "percentage_score": attempt.percentage_score or 0.0,
        "passed": bool(attempt.passed),
        "started_at": attempt.started_at,
        "completed_at": attempt.completed_at,
        "time_taken_minutes": round(taken, 1),
        "timed_out": attempt.timed_out,
        "correct_answers": attempt.correct_answers,
        "total_questions": attempt.total_questions,
        "results_visible": reveal,
        "detailed_results": details,
    }


def attempt_concepts(*, attempt: QuizAttempt) -> tuple[list[str], list[str]]:
    """Concepts answered right and wrong (the chatbot dialect's `correct` / `wrong`); a concept missed in
    any question counts as wrong."""
    rows = attempt.responses.select_related("question")
    answered = {str(r.question_id): r.is_correct for r in rows}
    concepts: dict[str, bool] = {}
    for q in Question.objects.filter(pk__in=attempt.questions_order):
        name = q.concept or q.question_text[:80]
        concepts[name] = concepts.get(name, True) and bool(answered.get(str(q.pk)))
    return [c for c, ok in concepts.items() if ok], [c for c, ok in concepts.items() if not ok]


def attempt_feedback_text(*, attempt: QuizAttempt, wrong: list[str]) -> str:
    score = attempt.percentage_score or 0
    topic = attempt.quiz.topic or attempt.quiz.title
    if score >= 90:
        return f"Excellent work on {topic}."
    revise = ", ".join(wrong[:3]) or topic
    if score >= 60:
        return f"Good progress, revise {revise}."
    return f"Keep practising {topic}: revise {revise}, then try again."
