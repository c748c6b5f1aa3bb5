"""Quiz use cases: authoring, attempts (start, answer, complete) with the rules enforced here."""

from __future__ import annotations

import hashlib
import json
import random
import re
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from tutorhub.assessments.models import Option, Question, Quiz, QuizAttempt, QuizResponse
from tutorhub.core.exceptions import Conflict, ServiceError
from tutorhub.learning.services import learner_event_record

# Answers sent this long after the deadline still count: they left the browser in time.
DEADLINE_GRACE = timedelta(seconds=5)


@transaction.atomic
def quiz_create(*, user, title: str, **fields) -> Quiz:
    return Quiz.objects.create(owner=user, title=title, **fields)


@transaction.atomic
def quiz_update(*, quiz: Quiz, **fields) -> Quiz:
    """Change a quiz's settings. Running attempts keep the deadline fixed when they started."""
    for name, value in fields.items():
        setattr(quiz, name, value)
    quiz.save(update_fields=[*fields, "updated_at"])
    return quiz


@transaction.atomic
def quiz_delete(*, quiz: Quiz) -> None:
    """Delete a quiz with its questions and attempts."""
    quiz.delete()


@transaction.atomic
def question_create(
    *,
    quiz: Quiz,
    question_text: str,
    question_type: str = Question.Type.MULTIPLE_CHOICE,
    points: int = 1,
    options: list[dict] | None = None,
    explanation: str = "",
    correct_text: str = "",
    concept: str = "",
    source_chunk_id=None,
) -> Question:
    """Add a question. options: [{"text", "is_correct"}]. A true/false question may give only
    correct_text ("true"/"false"); a short-answer question needs correct_text (alternatives
    separated by "|") or correct options, whose texts become the accepted answers."""
    options = [{"text": str(o["text"]).strip(), "is_correct": bool(o.get("is_correct"))} for o in options or []]
    if question_type == Question.Type.TRUE_FALSE and not options:
        truth = correct_text.strip().lower()
        if truth not in ("true", "false"):
            raise ServiceError("A true/false question needs options or correct_text 'true' or 'false'.")
        options = [{"text": "True", "is_correct": truth == "true"}, {"text": "False", "is_correct": truth == "false"}]
        correct_text = ""
    if question_type == Question.Type.SHORT_ANSWER:
        accepted = [o["text"] for o in options if o["is_correct"]]
        correct_text = correct_text.strip() or "|".join(accepted)
        if not correct_text:
            raise ServiceError("A short-answer question needs correct_text (the accepted answer).")
        options = []
    else:
        texts = [o["text"].lower() for o in options]
        if len(options) < 2 or len(set(texts)) != len(texts) or not all(texts):
            raise ServiceError("A choice question needs at least two distinct, non-empty options.")
        if not any(o["is_correct"] for o in options):
            raise ServiceError("Mark at least one option as correct.")
        if question_type == Question.Type.TRUE_FALSE and (len(options) != 2 or sum(o["is_correct"] for o in options) != 1):
            raise ServiceError("A true/false question has exactly two options, one of them correct.")
    question = Question.objects.create(
        quiz=quiz,
        question_text=question_text,
        question_type=question_type,
        points=points,
        explanation=explanation,
        correct_text=correct_text,
        concept=concept[:200],
        source_chunk_id=source_chunk_id,
        order=quiz.questions.count(),
    )
    Option.objects.bulk_create(
        [Option(question=question, text=o["text"][:500], is_correct=o["is_correct"], order=i) for i, o in enumerate(options)]
    )
    return question


def _expired(attempt: QuizAttempt, now: datetime) -> bool:
    return attempt.deadline is not None and now > attempt.deadline + DEADLINE_GRACE


def attempt_start(*, user, quiz: Quiz, now: datetime | None = None) -> tuple[QuizAttempt, bool]:
    """Start an attempt, or return the one still running (created=False).
    Raises Conflict (MAX_ATTEMPTS_REACHED) when the quiz's attempts are used up."""
    now = now or timezone.now()
    for stale in QuizAttempt.objects.filter(quiz=quiz, user=user, status=QuizAttempt.Status.IN_PROGRESS):
        if _expired(stale, now):
            attempt_complete(attempt=stale, now=now)
    with transaction.atomic():
        # Serialise starts per quiz so two parallel requests cannot both pass the attempt count.
        quiz = Quiz.objects.select_for_update().get(pk=quiz.pk)
        running = QuizAttempt.objects.filter(quiz=quiz, user=user, status=QuizAttempt.Status.IN_PROGRESS).first()
        if running:
            return running, False
        used = QuizAttempt.objects.filter(quiz=quiz, user=user).count()
        if quiz.max_attempts and used >= quiz.max_attempts:
            raise Conflict(
                f"You have used all {quiz.max_attempts} attempts at this quiz.", error_code="MAX_ATTEMPTS_REACHED"
            )
        order = [str(pk) for pk in quiz.questions.values_list("id", flat=True)]
        if not order:
            raise ServiceError("This quiz has no questions yet.", error_code="QUIZ_EMPTY")
        if quiz.randomize_questions:
            random.SystemRandom().shuffle(order)
        try:
            with transaction.atomic():
                attempt = QuizAttempt.objects.create(
                    quiz=quiz,
                    user=user,
                    started_at=now,
                    deadline=now + timedelta(minutes=quiz.time_limit_minutes) if quiz.time_limit_minutes else None,
                    questions_order=order,
                    total_questions=len(order),
                )
        except IntegrityError:
            # quiz_attempt_one_in_progress: a parallel start won (the quiz lock makes this rare;
            # the constraint is the rule). Its attempt is the running one.
            return QuizAttempt.objects.get(quiz=quiz, user=user, status=QuizAttempt.Status.IN_PROGRESS), False
    return attempt, True


def attempt_response_submit(
    *,
    attempt: QuizAttempt,
    question_id,
    selected_options: list | None = None,
    text_answer: str = "",
    time_spent_seconds: int = 0,
    now: datetime | None = None,
) -> QuizResponse:
    """Record (or replace) the answer to one question. Nothing about correctness is computed or
    returned here. Raises Conflict when the attempt is over or its time limit has passed (the
    attempt is then completed with the answers given in time)."""
    now = now or timezone.now()
    with transaction.atomic():
        attempt = QuizAttempt.objects.select_for_update(of=("self",)).select_related("quiz").get(pk=attempt.pk)
        if attempt.status == QuizAttempt.Status.COMPLETED:
            raise Conflict("This attempt is already completed.", error_code="ATTEMPT_COMPLETED")
        expired = _expired(attempt, now)
        if not expired:
            if str(question_id) not in attempt.questions_order:
                raise ServiceError("This question is not part of this attempt.", error_code="INVALID_QUESTION")
            question = Question.objects.get(pk=question_id)
            selected = [str(s) for s in dict.fromkeys(selected_options or [])]
            valid = {str(pk) for pk in question.options.values_list("id", flat=True)}
            if set(selected) - valid:
                raise ServiceError("selected_options must be options of this question.", error_code="INVALID_OPTION")
            response, _ = QuizResponse.objects.update_or_create(
                attempt=attempt,
                question=question,
                defaults={
                    "selected_options": selected,
                    "text_answer": (text_answer or "").strip(),
                    "time_spent_seconds": max(0, int(time_spent_seconds or 0)),
                },
            )
            return response
    attempt_complete(attempt=attempt, now=now)
    raise Conflict(
        "The time limit has passed; the attempt was completed with the answers given in time.",
        error_code="TIME_LIMIT_EXCEEDED",
    )


def normalize_answer(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s./-]", " ", (text or "").lower()).split()).strip(" .")


def _grade(question: Question, response: QuizResponse | None) -> bool:
    if response is None:
        return False
    if question.question_type == Question.Type.SHORT_ANSWER:
        given = normalize_answer(response.text_answer)
        return bool(given) and given in {normalize_answer(a) for a in question.correct_text.split("|")}
    correct = {str(o.pk) for o in question.options.all() if o.is_correct}
    return set(response.selected_options) == correct


@transaction.atomic
def attempt_complete(*, attempt: QuizAttempt, now: datetime | None = None) -> QuizAttempt:
    """Grade every question of the attempt, fix the score, record learner evidence per answer.
    Idempotent: completing a completed attempt returns it unchanged."""
    now = now or timezone.now()
    attempt = QuizAttempt.objects.select_for_update(of=("self",)).select_related("quiz__course").get(pk=attempt.pk)
    if attempt.status == QuizAttempt.Status.COMPLETED:
        return attempt
    quiz = attempt.quiz
    questions = {str(q.pk): q for q in quiz.questions.prefetch_related("options")}
    responses = {str(r.question_id): r for r in attempt.responses.all()}
    earned = possible = 0.0
    correct_count = 0
    to_update = []
    for qid in attempt.questions_order:
        question = questions.get(qid)
        if question is None:  # deleted after the attempt began: not counted
            continue
        response = responses.get(qid)
        ok = _grade(question, response)
        possible += question.points
        if ok:
            earned += question.points
            correct_count += 1
        if response is not None:
            response.is_correct = ok
            response.points_earned = float(question.points if ok else 0)
            to_update.append(response)
        learner_event_record(
            user=attempt.user,
            kind="quiz_answer",
            topic=quiz.topic or question.concept or quiz.title,
            score=1.0 if ok else 0.0,
            subject=quiz.subject or (quiz.course.subject_area if quiz.course_id else ""),
            duration_seconds=response.time_spent_seconds if response else 0,
            source=f"assessments.Question:{question.pk}",
            occurred_at=now,
        )
    QuizResponse.objects.bulk_update(to_update, ["is_correct", "points_earned"])
    attempt.timed_out = _expired(attempt, now)
    attempt.completed_at = min(now, attempt.deadline) if attempt.deadline else now
    attempt.status = QuizAttempt.Status.COMPLETED
    attempt.score = earned
    attempt.max_score = possible
    attempt.percentage_score = round(100 * earned / possible, 2) if possible else 0.0
    attempt.passed = attempt.percentage_score >= quiz.passing_score
    attempt.correct_answers = correct_count
    attempt.total_questions = len([q for q in attempt.questions_order if q in questions])
    attempt.save()
    return attempt


def attempt_finish(*, attempt: QuizAttempt, answers: dict[str, tuple[list, str]], now: datetime | None = None) -> QuizAttempt:
    """Grade the attempt on a whole form of answers ({question id: (selected option ids, text)}).

    The web page already stores each answer as it is given (attempt_response_submit through the
    API, so an answer counts even when the final submit is late); here only the answers that
    differ from what is stored go through that same service (a page without JavaScript, or a
    change the page had no time to save), so nothing is written twice. Answers that come after
    the deadline are refused by attempt_response_submit and the attempt is graded on what was
    saved in time; an option id that is not the question's raises ServiceError before anything
    is graded (the attempt keeps running)."""
    stored = {
        str(question_id): (selected, text)
        for question_id, selected, text in attempt.responses.values_list("question_id", "selected_options", "text_answer")
    }
    try:
        for question_id in attempt.questions_order:
            selected, text = answers.get(str(question_id), ([], ""))
            if stored.get(str(question_id)) == ([str(s) for s in dict.fromkeys(selected)], (text or "").strip()):
                continue
            attempt_response_submit(attempt=attempt, question_id=question_id, selected_options=selected, text_answer=text, now=now)
    except Conflict:
        pass  # over time: completed with the answers given in time (the result says timed out)
    return attempt_complete(attempt=attempt, now=now)


def _submission_key(questions: list[Question], answers: list[str]) -> str:
    """What makes two seed-000 submits the same submit: the quiz's questions and the answers."""
    content = {"questions": [str(q.pk) for q in questions], "answers": [normalize_answer(str(a)) for a in answers]}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def quiz_submit_answers(*, user, quiz: Quiz, answers: list[str], now: datetime | None = None) -> QuizAttempt:
    """The chatbot dialect's one-shot submit: answers in question order, as option texts (or free text).

    Idempotent on its content: the same answers to the same questions return the attempt they
    created (double click, client retry) instead of a second one. The attempt is started, answered
    and graded in one transaction so a parallel duplicate never sees it half-answered, and the
    unique `submission_key` (quiz_attempt_submission_once) decides which of two racing submits
    created it, on SQLite and PostgreSQL alike.
    """
    questions = list(quiz.questions.prefetch_related("options").order_by("order", "pk"))
    key = _submission_key(questions, answers)
    mine = QuizAttempt.objects.filter(quiz=quiz, user=user, submission_key=key)
    try:
        with transaction.atomic():
            # The lock attempt_start takes, taken first: a duplicate waits here for the first submit
            # to commit and then finds its attempt, instead of failing the attempt count.
            Quiz.objects.select_for_update().filter(pk=quiz.pk).exists()
            if (existing := mine.first()) is not None:
                return attempt_complete(attempt=existing, now=now)  # completing a completed attempt is a no-op
            attempt, _ = attempt_start(user=user, quiz=quiz, now=now)
            # Claim the attempt for this submit; a racing duplicate's claim fails on the unique key.
            QuizAttempt.objects.filter(pk=attempt.pk).update(submission_key=key)
            by_id = {str(q.pk): q for q in questions}
            ordered = sorted(attempt.questions_order, key=lambda qid: (by_id[qid].order, qid))
            for qid, answer in zip(ordered, answers, strict=False):
                answer = str(answer if answer is not None else "")
                chosen = [o.pk for o in by_id[qid].options.all() if normalize_answer(o.text) == normalize_answer(answer)]
                attempt_response_submit(attempt=attempt, question_id=qid, selected_options=chosen[:1], text_answer=answer, now=now)
            return attempt_complete(attempt=attempt, now=now)
    except IntegrityError:
        # The duplicate committed first (its transaction held the key); that attempt is the answer.
        return mine.get()
