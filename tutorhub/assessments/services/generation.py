"""Generated study material: the canonical API's assessment generate_content and the chatbot dialect's topic quiz."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Avg

from tutorhub.assessments.models import Assessment, Question, Quiz
from tutorhub.assessments.services.ai import (
    Material,
    flashcards_generate,
    material_gather,
    material_matches_topic,
    quiz_questions_generate,
)
from tutorhub.assessments.services.flashcards import flashcard_create
from tutorhub.assessments.services.quizzes import question_create, quiz_create
from tutorhub.assessments.tasks import assessment_generate_task
from tutorhub.core.exceptions import Conflict, ServiceError
from tutorhub.learning.models import LearnerEvent
from tutorhub.learning.services import normalize_topic


def generation_is_large(*, flashcard_count: int, quiz_questions: int, document_ids: list | None) -> bool:
    """Above this much work the request returns at once and a background task does it."""
    limit = getattr(settings, "ASSESSMENT_SYNC_GENERATION_LIMIT", 20)
    return flashcard_count + quiz_questions > limit or len(document_ids or []) > 3


@transaction.atomic
def assessment_create(*, user, title: str, course=None, topic: str = "", description: str = "") -> Assessment:
    return Assessment.objects.create(owner=user, title=title, course=course, topic=topic, description=description)


@transaction.atomic
def assessment_delete(*, assessment: Assessment) -> None:
    """Delete the run's record; the flashcards and quiz it generated stay the user's."""
    assessment.delete()


def assessment_generate_later(*, assessment: Assessment, params: dict[str, Any]) -> None:
    """Queue a begun run (assessment_generation_begin) for the background worker, once the
    caller's transaction commits."""
    transaction.on_commit(lambda: assessment_generate_task.enqueue(str(assessment.pk), params))


def assessment_generation_begin(*, assessment: Assessment, params: dict[str, Any]) -> Assessment:
    """Mark a run as started (refusing a second concurrent run) and remember its parameters."""
    with transaction.atomic():
        locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
        if locked.status == Assessment.Status.PROCESSING:
            raise Conflict("A generation run is already in progress for this assessment.", error_code="GENERATION_RUNNING")
        locked.status, locked.progress, locked.error = Assessment.Status.PROCESSING, 0, ""
        locked.request = params
        locked.save(update_fields=["status", "progress", "error", "request", "updated_at"])
    return locked


def _progress(assessment: Assessment, percent: int) -> None:
    assessment.progress = percent
    Assessment.objects.filter(pk=assessment.pk).update(progress=percent)


def _adaptive(*, user, topic: str, difficulty: str | None) -> tuple[str | None, dict[str, Any]]:
    """Adjust difficulty from the student's own results on the topic (learner events)."""
    topic_key = normalize_topic(topic)
    events = LearnerEvent.objects.filter(user=user, score__isnull=False)
    mean = events.filter(topic=topic_key).aggregate(m=Avg("score"))["m"] if topic_key else None
    weak = list(
        events.values("topic").annotate(m=Avg("score")).filter(m__lt=0.6).order_by("m").values_list("topic", flat=True)[:3]
    )
    adjusted = difficulty
    if mean is not None:
        adjusted = "hard" if mean >= 0.8 else "easy" if mean < 0.5 else "medium"
    order = {"easy": 0, "medium": 1, "hard": 2}
    return adjusted, {
        "topic_mean_score": round(mean, 3) if mean is not None else None,
        "difficulty_requested": difficulty,
        "difficulty_used": adjusted,
        "difficulty_increased": bool(adjusted and order.get(adjusted, 1) > order.get(difficulty or "medium", 1)),
        "focus_areas": weak,
    }


def _timed(fn, **kwargs) -> tuple[Any, int]:
    """(fn's result, milliseconds it took) - the seed's processing_time_ms."""
    started = time.perf_counter()
    result = fn(**kwargs)
    return result, int((time.perf_counter() - started) * 1000)


def _source(material: list[Material], ref: int | None) -> Material | None:
    return material[ref] if ref is not None and 0 <= ref < len(material) else None


def _no_material(topic: str) -> ServiceError:
    # One wording for every generation entry point and API dialect, so it names no dialect's fields.
    return ServiceError(
        f'None of your course material is about "{topic}": nothing was generated. Add a document on this '
        "topic, or choose a topic your material covers.",
        error_code="NO_MATERIAL",
        status_code=422,
    )


def _require_topic_material(topic: str, material: list[Material]) -> None:
    """NO_MATERIAL (422, nothing written) when there is material but no passage of it mentions the
    topic the user named: retrieval returns its nearest passages whether related or not, and items
    about something else under the topic's title would look like an answer. (With no material at
    all a real model may still write from general knowledge; the offline one makes nothing.)"""
    if material and not material_matches_topic(topic, material):
        raise _no_material(topic)


def _count_report(requested: int, made: int, reason: str, noun: str) -> dict[str, Any]:
    """How many items were asked for and made, and why fewer (None when all were made)."""
    if made >= requested:
        return {"requested": requested, "generated": made, "shortfall_reason": None}
    return {
        "requested": requested,
        "generated": made,
        "shortfall_reason": reason or f"The material supported only {made} of the {requested} {noun} asked for.",
    }


def _confidence(items: list[dict]) -> float | None:
    values = [i["confidence"] for i in items if i.get("confidence") is not None]
    return round(sum(values) / len(values), 3) if values else None


def _store_quiz(*, user, quiz_fields: dict, questions: list[dict], material: list[Material]) -> tuple[Quiz, list[Question]]:
    quiz = quiz_create(user=user, is_generated=True, **quiz_fields)
    stored = []
    for item in questions:
        source = _source(material, item.get("source"))
        is_text = item["question_type"] == "short_answer"
        stored.append(question_create(
            quiz=quiz,
            question_text=item["question_text"],
            question_type=item["question_type"],
            points=item.get("points", 1),
            options=[] if is_text else [
                {"text": o, "is_correct": o.strip().lower() == item["correct_answer"].strip().lower()} for o in item["options"]
            ],
            correct_text=item["correct_answer"] if is_text else "",
            explanation=item.get("explanation", ""),
            concept=item.get("concept", ""),
            source_chunk_id=source.chunk_id if source else None,
        ))
    return quiz, stored


def assessment_generate_content(*, assessment_id, params: dict[str, Any]) -> Assessment:
    """Generate flashcards and a quiz for an assessment whose run was begun. Stores everything in
    one transaction at the end, so a failed run leaves nothing half-written; the assessment then
    carries status "failed" and the reason. Raises what the generators raise."""
    assessment = Assessment.objects.select_related("course", "owner").get(pk=assessment_id)
    try:
        return _generate(assessment, params)
    except Exception as exc:
        Assessment.objects.filter(pk=assessment.pk).update(
            status=Assessment.Status.FAILED,
            error=str(getattr(exc, "detail", "")) or "Generation failed.",
        )
        raise


def _generate(assessment: Assessment, params: dict[str, Any]) -> Assessment:
    user = assessment.owner
    named_topic = params.get("topic") or assessment.topic
    topic = named_topic or assessment.title
    content = params.get("content") or ""
    n_cards, n_questions = params.get("flashcard_count", 10), params.get("quiz_questions", 10)
    difficulty = params.get("difficulty_level") or None
    adaptive_meta: dict[str, Any] = {}
    if params.get("use_adaptive"):
        difficulty, adaptive_meta = _adaptive(user=user, topic=topic, difficulty=difficulty)

    material = material_gather(
        user=user, query=f"{topic} {content}".strip(), content=content, document_ids=params.get("document_ids"),
        course_ids=[assessment.course_id] if assessment.course_id else None,
    )
    if named_topic:  # a title ("Midterm prep") is not a topic to hold the material to
        _require_topic_material(topic, material)
    _progress(assessment, 10)
    common = {"user": user, "topic": topic, "instructions": content, "material": material, "difficulty_level": difficulty}
    (card_data, card_model), card_ms = (
        _timed(flashcards_generate, count=n_cards, **common)
        if n_cards
        else (({"flashcards": [], "shortfall_reason": ""}, ""), 0)
    )
    cards = card_data["flashcards"]
    _progress(assessment, 50)
    (quiz_data, quiz_model), quiz_ms = (
        _timed(quiz_questions_generate, count=n_questions, **common)
        if n_questions
        else (({"title": "", "questions": [], "shortfall_reason": ""}, ""), 0)
    )
    _progress(assessment, 90)
    if not cards and not quiz_data["questions"]:
        raise _no_material(topic)

    with transaction.atomic():
        stored_cards = [
            flashcard_create(
                user=user, course=assessment.course, assessment=assessment, question=c["question"], answer=c["answer"],
                explanation=c["explanation"], difficulty_level=c["difficulty_level"], tags=[topic] if topic else [],
                source_chunk_id=getattr(_source(material, c["source"]), "chunk_id", None), confidence=c["confidence"],
            )
            for c in cards
        ]
        quiz, questions = None, []
        if quiz_data["questions"]:
            quiz, questions = _store_quiz(
                user=user,
                quiz_fields={"title": quiz_data["title"] or f"{topic} Quiz", "course": assessment.course,
                             "assessment": assessment, "topic": topic, "ai_model_used": quiz_model,
                             "subject": assessment.course.subject_area if assessment.course_id else ""},
                questions=quiz_data["questions"], material=material,
            )
        concepts = [q["concept"] for q in quiz_data["questions"] if q.get("concept")]
        result = {
            "message": "Content generation completed",
            "assessment_id": str(assessment.pk),
            "status": "completed",
            "generated_content": {
                "flashcards": {
                    "count": len(stored_cards),
                    "flashcards": [
                        {"id": str(card.pk), "question": card.question, "answer": card.answer,
                         "explanation": card.explanation, "difficulty_level": card.difficulty_level,
                         "confidence": card.confidence, "source": _public_source(material, c["source"])}
                        for card, c in zip(stored_cards, cards, strict=True)
                    ],
                    "confidence": _confidence(cards),
                    **_count_report(n_cards, len(stored_cards), card_data["shortfall_reason"], "flashcards"),
                },
                "quiz": {
                    "quiz_id": str(quiz.pk) if quiz else None,
                    "title": quiz.title if quiz else "",
                    "question_count": len(questions),
                    "questions": [
                        {"id": str(obj.pk), "question_text": q["question_text"], "question_type": q["question_type"],
                         "options": q["options"], "correct_answer": q["correct_answer"], "explanation": q["explanation"],
                         "concept": q["concept"], "source": _public_source(material, q["source"])}
                        for obj, q in zip(questions, quiz_data["questions"], strict=True)
                    ],
                    "confidence": _confidence(quiz_data["questions"]),
                    **_count_report(n_questions, len(questions), quiz_data["shortfall_reason"], "questions"),
                },
            },
            "agent_metadata": {
                "flashcard_generation": {
                    "agent_used": card_model,
                    "processing_time_ms": card_ms,
                    "content_analysis": {
                        "topics_identified": list(dict.fromkeys(concepts))[:20],
                        "difficulty_distribution": dict(Counter(c["difficulty_level"] for c in cards)),
                        "passages_used": len(material),
                    },
                },
                "quiz_generation": {
                    "agent_used": quiz_model,
                    "processing_time_ms": quiz_ms,
                    "adaptive_adjustments": adaptive_meta,
                },
            },
            "ai_model_used": card_model or quiz_model,
        }
        assessment.status, assessment.progress = Assessment.Status.COMPLETED, 100
        assessment.result, assessment.error = result, ""
        if not assessment.topic:
            assessment.topic = topic[:200]
        assessment.save(update_fields=["status", "progress", "result", "error", "topic", "updated_at"])
    return assessment


def _public_source(material: list[Material], ref: int | None) -> dict | None:
    source = _source(material, ref)
    return source.source() if source else None


def quiz_generate_for_topic(*, user, subject: str, topic: str, count: int = 5) -> tuple[Quiz, list[dict], dict]:
    """The chatbot dialect: a quiz on a topic, grounded in the student's own resources; returns the quiz, its
    items and {"requested", "generated", "shortfall_reason"}.
    Raises ServiceError(NO_MATERIAL, 422) when nothing could be generated."""
    material = material_gather(user=user, query=f"{topic} {subject}".strip(), k=6)
    _require_topic_material(topic, material)
    data, model = quiz_questions_generate(
        user=user, topic=topic, instructions=f"Subject: {subject}" if subject else "", material=material,
        count=count, difficulty_level=None,
    )
    if not data["questions"]:
        raise _no_material(topic)
    with transaction.atomic():
        quiz, questions = _store_quiz(
            user=user,
            quiz_fields={"title": data["title"] or f"{topic} Quiz", "subject": subject, "topic": topic,
                         "ai_model_used": model},
            questions=data["questions"],
            material=material,
        )
    items = [dict(q, id=str(obj.pk), source=_public_source(material, q["source"]))
             for obj, q in zip(questions, data["questions"], strict=True)]
    return quiz, items, _count_report(count, len(items), data["shortfall_reason"], "questions")

