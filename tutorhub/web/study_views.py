"""The study pages: flashcard review and editing, quizzes, progress.

Like the chat pages, they read through the domain selectors and change state through the same
services the API uses: a review here is `flashcard_review`, a quiz attempt is `attempt_start`
/ `attempt_response_submit` / `attempt_complete`, generation is the API's own generate_content
route called from the page (so it runs in the background with a progress percentage)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from tutorhub.assessments import selectors as assessment_selectors
from tutorhub.assessments.models import QuizAttempt
from tutorhub.assessments.services import flashcards as flashcard_services
from tutorhub.assessments.services import quizzes as quiz_services
from tutorhub.core.exceptions import ServiceError
from tutorhub.learning.analytics import activity_days, streaks
from tutorhub.learning.selectors import progress_summary, user_today
from tutorhub.web import charts
from tutorhub.web.selectors import (
    active_flashcards,
    attempt_saved_responses,
    generation_documents,
    recent_attempts,
    scored_attempts,
)
from tutorhub.web.views import PLACEHOLDER_ID

REVIEW_QUEUE = 50  # cards handed to one review page; the page offers a reload when done
CARDS_LISTED = 100
QUIZZES_LISTED = 50
FORECAST_DAYS = 14
SCORES_CHARTED = 30  # latest completed attempts on the progress chart


# --- flashcards ------------------------------------------------------------------------------
@login_required
def flashcards_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "nav": "flashcards",
        "queue": assessment_selectors.flashcard_review_queue(user=user, limit=REVIEW_QUEUE),
        "cards": active_flashcards(user=user, limit=CARDS_LISTED),
        "documents": generation_documents(user=user),
        "placeholder_id": PLACEHOLDER_ID,
    }
    return render(request, "web/study/flashcards.html", context)


class FlashcardForm(forms.Form):
    # Same limits as the API's FlashcardSerializer.
    question = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    answer = forms.CharField(max_length=8000, widget=forms.Textarea(attrs={"rows": 4}))
    explanation = forms.CharField(max_length=8000, required=False, widget=forms.Textarea(attrs={"rows": 3}))


@login_required
@require_http_methods(["GET", "POST"])
def flashcard_edit(request: HttpRequest, card_id: UUID | None = None) -> HttpResponse:
    card = None
    if card_id is not None:
        card = get_object_or_404(assessment_selectors.flashcard_list(user=request.user), pk=card_id)
    initial = {"question": card.question, "answer": card.answer, "explanation": card.explanation} if card else None
    form = FlashcardForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        if card is None:
            flashcard_services.flashcard_create(user=request.user, **form.cleaned_data)
        else:
            flashcard_services.flashcard_update(flashcard=card, **form.cleaned_data)
        return redirect("web:flashcards")
    status = 400 if form.errors else 200
    return render(request, "web/study/flashcard_form.html", {"nav": "flashcards", "form": form, "card": card}, status=status)


# --- quizzes ---------------------------------------------------------------------------------
@login_required
def quizzes_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "nav": "quizzes",
        "quizzes": list(assessment_selectors.quiz_list_visible(user=user)[:QUIZZES_LISTED]),
        "attempts": recent_attempts(user=user, limit=20),
        "documents": generation_documents(user=user),
        "placeholder_id": PLACEHOLDER_ID,
    }
    return render(request, "web/study/quizzes.html", context)


@login_required
@require_POST
def quiz_start(request: HttpRequest, quiz_id: UUID) -> HttpResponse:
    quiz = get_object_or_404(assessment_selectors.quiz_list_visible(user=request.user), pk=quiz_id)
    try:
        attempt, _created = quiz_services.attempt_start(user=request.user, quiz=quiz)
    except ServiceError as exc:
        return render(request, "web/study/message.html", {"nav": "quizzes", "title": quiz.title, "message": exc.detail}, status=exc.status_code)
    return redirect("web:quiz-attempt", attempt_id=attempt.pk)


@login_required
@require_http_methods(["GET", "POST"])
def quiz_attempt(request: HttpRequest, attempt_id: UUID) -> HttpResponse:
    """A running attempt: its questions and the deadline (GET); the answers, graded (POST).

    The server decides about time: answers that arrive after the deadline (plus the API's grace)
    are refused by `attempt_response_submit`, which completes the attempt with what was saved in
    time; the page's countdown only shows the deadline and submits when it passes."""
    attempt = get_object_or_404(assessment_selectors.attempt_list(user=request.user), pk=attempt_id)
    if request.method == "POST" and attempt.status == QuizAttempt.Status.IN_PROGRESS:
        answers = {
            str(qid): (request.POST.getlist(f"q-{qid}"), request.POST.get(f"text-{qid}", "")[:5000])
            for qid in attempt.questions_order
        }
        try:
            quiz_services.attempt_finish(attempt=attempt, answers=answers)
        except ServiceError as exc:  # a forged option id: nothing graded, the attempt keeps running
            return render(request, "web/study/message.html", {"nav": "quizzes", "title": attempt.quiz.title, "message": exc.detail}, status=exc.status_code)
        return redirect("web:quiz-attempt", attempt_id=attempt.pk)
    if attempt.status == QuizAttempt.Status.COMPLETED:
        reveal = assessment_selectors.attempt_results_visible(user=request.user, attempt=attempt)
        result = assessment_selectors.attempt_result(attempt=attempt, reveal=reveal)
        return render(request, "web/study/quiz_result.html", {"nav": "quizzes", "quiz": attempt.quiz, "result": result})
    questions = {str(q.pk): q for q in assessment_selectors.questions_with_options(quiz=attempt.quiz)}
    saved = attempt_saved_responses(attempt=attempt)
    context = {
        "nav": "quizzes",
        "attempt": attempt,
        "quiz": attempt.quiz,
        "questions": [
            (questions[qid], saved.get(qid)) for qid in attempt.questions_order if qid in questions
        ],
        "seconds_left": max(0, int((attempt.deadline - timezone.now()).total_seconds())) if attempt.deadline else None,
    }
    return render(request, "web/study/quiz_take.html", context)


# --- progress --------------------------------------------------------------------------------
@login_required
def progress_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    today = user_today(user)
    days = activity_days(user=user, since=today - timedelta(days=365))
    forecast = assessment_selectors.flashcard_due_forecast(user=user, days=FORECAST_DAYS, today=today)
    summary = progress_summary(user=user)
    topics = [
        (topic["topic"], topic["mastery"]) for subject in summary["subjects"] for topic in subject["topics"]
    ][:30]
    attempts = scored_attempts(user=user, limit=SCORES_CHARTED)
    context = {
        "nav": "progress",
        "streak": streaks(days, today),
        "active_last_week": sum((today - timedelta(days=i)) in days for i in range(7)),
        "due_chart": charts.bar_chart(
            [(day.strftime("%d %b"), count) for day, count in forecast], label="Cards due per day, next two weeks"
        ),
        "due_total": sum(count for _, count in forecast),
        "mastery_chart": charts.horizontal_bars(
            [(name, round(value * 100)) for name, value in topics], label="Mastery per topic (%)", maximum=100
        ) if topics else None,
        "score_chart": charts.line_chart(
            [(a.completed_at.strftime("%d %b"), round(a.percentage_score)) for a in attempts],
            label="Quiz scores over time (%)", maximum=100,
        ) if attempts else None,
    }
    return render(request, "web/study/progress.html", context)
