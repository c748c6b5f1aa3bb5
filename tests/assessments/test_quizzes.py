"""Quizzes and attempts (seed 001): authoring, attempt rules, no answer leak, results."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import client_for
from tutorhub.assessments import services
from tutorhub.assessments.models import QuizAttempt
from tutorhub.learning.models import LearnerEvent

QUIZZES = "/api/v1/assessments/quizzes/"
ATTEMPTS = "/api/v1/assessments/quiz-attempts/"
pytestmark = pytest.mark.django_db

LEAKS = ("is_correct", "correct_answer", "correct_text", "explanation")


def assert_no_leak(payload):
    text = json.dumps(payload)
    for key in LEAKS:
        assert f'"{key}"' not in text, f"{key} leaked: {text[:300]}"


def test_create_quiz_and_questions_seed_shape(teacher, taught_course):
    client = client_for(teacher)
    body = {"course": str(taught_course.pk), "title": "Calculus Final Review", "description": "Review",
            "quiz_type": "practice", "time_limit_minutes": 60, "passing_score": 70, "max_attempts": 3,
            "randomize_questions": True, "show_results_immediately": True}
    response = client.post(QUIZZES, body, format="json")
    assert response.status_code == 201, response.content
    quiz_id = response.json()["id"]
    question = {"question_text": "What is the derivative of x²?", "question_type": "multiple_choice", "points": 5,
                "options": [{"text": "2x", "is_correct": True}, {"text": "x", "is_correct": False},
                            {"text": "x²", "is_correct": False}, {"text": "2x²", "is_correct": False}],
                "explanation": "The power rule states that d/dx(x^n) = nx^(n-1)"}
    response = client.post(f"{QUIZZES}{quiz_id}/questions/", question, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert len(data["options"]) == 4 and all("id" in o for o in data["options"])
    assert [o["is_correct"] for o in data["options"]] == [True, False, False, False]
    assert client.get(f"{QUIZZES}{quiz_id}/").json()["question_count"] == 1


@pytest.mark.parametrize("bad", [
    {"question_text": "q", "options": [{"text": "a", "is_correct": True}]},  # one option
    {"question_text": "q", "options": [{"text": "a"}, {"text": "b"}]},  # none correct
    {"question_text": "q", "options": [{"text": "a", "is_correct": True}, {"text": "a"}]},  # duplicates
    {"question_text": "q", "question_type": "short_answer"},  # no accepted answer
    {"question_text": "q", "question_type": "true_false", "correct_text": "maybe"},
    {"question_text": "q", "question_type": "essay"},
    {"question_text": "q", "points": 0, "options": [{"text": "a", "is_correct": True}, {"text": "b"}]},
])
def test_bad_questions_rejected(teacher, make_quiz, bad):
    quiz = make_quiz()
    response = client_for(teacher).post(f"{QUIZZES}{quiz.pk}/questions/", bad, format="json")
    assert response.status_code == 400, response.content
    assert quiz.questions.count() == 3


def test_students_cannot_author_and_strangers_get_404(api_client, other_user, make_quiz):
    quiz = make_quiz()
    q = {"question_text": "x", "options": [{"text": "a", "is_correct": True}, {"text": "b"}]}
    assert api_client.post(f"{QUIZZES}{quiz.pk}/questions/", q, format="json").status_code == 403
    assert api_client.patch(f"{QUIZZES}{quiz.pk}/", {"title": "mine"}, format="json").status_code == 403
    stranger = client_for(other_user)
    assert stranger.get(f"{QUIZZES}{quiz.pk}/").status_code == 404
    assert stranger.post(f"{QUIZZES}{quiz.pk}/start_attempt/").status_code == 404
    attempt, _ = services.attempt_start(user=quiz.course.groups.first().students.first(), quiz=quiz)
    assert stranger.get(f"{ATTEMPTS}{attempt.pk}/").status_code == 404
    assert stranger.post(f"{ATTEMPTS}{attempt.pk}/complete/").status_code == 404


def test_student_sees_questions_without_answers(api_client, make_quiz):
    quiz = make_quiz()
    data = api_client.get(f"{QUIZZES}{quiz.pk}/questions/").json()
    assert len(data) == 3
    assert_no_leak(data)


def test_full_attempt_flow_and_seed_result_shape(api_client, user, make_quiz):
    quiz = make_quiz(time_limit_minutes=30, passing_score=60)
    response = api_client.post(f"{QUIZZES}{quiz.pk}/start_attempt/")
    assert response.status_code == 201, response.content
    start = response.json()
    assert_no_leak(start)
    for key in ("attempt_id", "quiz_id", "started_at", "time_limit_minutes", "questions_order", "status"):
        assert key in start
    assert start["status"] == "in_progress" and start["time_limit_minutes"] == 30 and len(start["questions_order"]) == 3
    by_text = {q["question_text"]: q for q in start["questions"]}
    mc = by_text["2 + 2?"]
    four = next(o["id"] for o in mc["options"] if o["text"] == "4")
    false = next(o["id"] for o in by_text["0 is even."]["options"] if o["text"] == "False")
    attempt_url = f"{ATTEMPTS}{start['attempt_id']}/"
    for body in (
        {"question": mc["id"], "selected_options": [four], "time_spent_seconds": 45},
        {"question": by_text["0 is even."]["id"], "selected_options": [false]},
        {"question": by_text["Name the result of a multiplication."]["id"], "text_answer": "The product."},
    ):
        response = api_client.post(attempt_url + "submit_response/", body, format="json")
        assert response.status_code == 200, response.content
        assert_no_leak(response.json())
    # Mid-attempt views leak nothing either.
    assert_no_leak(api_client.get(attempt_url).json())
    # Starting again returns the running attempt.
    again = api_client.post(f"{QUIZZES}{quiz.pk}/start_attempt/")
    assert again.status_code == 200 and again.json()["attempt_id"] == start["attempt_id"]

    result = api_client.post(attempt_url + "complete/").json()
    assert result["score"] == 3 and result["max_score"] == 4 and result["percentage_score"] == 75.0
    assert result["passed"] is True and result["correct_answers"] == 2 and result["total_questions"] == 3
    assert result["time_taken_minutes"] >= 0 and result["completed_at"]
    rows = {r["question"]: r for r in result["detailed_results"]}
    assert rows["2 + 2?"]["user_answer"] == "4" and rows["2 + 2?"]["is_correct"] is True
    assert rows["2 + 2?"]["points_earned"] == 2 and rows["2 + 2?"]["points_possible"] == 2
    assert rows["0 is even."]["correct_answer"] == "True" and rows["0 is even."]["is_correct"] is False
    assert rows["Name the result of a multiplication."]["is_correct"] is True
    assert rows["2 + 2?"]["explanation"] == "Count on."
    # Completing twice is harmless; answering after completion is refused.
    assert api_client.post(attempt_url + "complete/").json()["score"] == 3
    late = api_client.post(attempt_url + "submit_response/", {"question": mc["id"], "selected_options": []}, format="json")
    assert late.status_code == 409 and late.json()["error_code"] == "ATTEMPT_COMPLETED"
    # One learner event per answer, on the quiz's topic.
    events = LearnerEvent.objects.filter(user=user, kind="quiz_answer")
    assert events.count() == 3 and {e.topic for e in events} == {"algebra"}
    assert sorted(e.score for e in events) == [0.0, 1.0, 1.0]


def test_hidden_results_stay_hidden(api_client, make_quiz):
    quiz = make_quiz(show_results_immediately=False)
    attempt, _ = services.attempt_start(user=quiz.course.groups.first().students.first(), quiz=quiz)
    result = api_client.post(f"{ATTEMPTS}{attempt.pk}/complete/").json()
    assert result["results_visible"] is False and result["percentage_score"] == 0.0
    assert_no_leak(result["detailed_results"])


def test_max_attempts_enforced(api_client, make_quiz):
    quiz = make_quiz(max_attempts=2)
    for _ in range(2):
        attempt_id = api_client.post(f"{QUIZZES}{quiz.pk}/start_attempt/").json()["attempt_id"]
        assert api_client.post(f"{ATTEMPTS}{attempt_id}/complete/").status_code == 200
    response = api_client.post(f"{QUIZZES}{quiz.pk}/start_attempt/")
    assert response.status_code == 409 and response.json()["error_code"] == "MAX_ATTEMPTS_REACHED"
    assert QuizAttempt.objects.filter(quiz=quiz).count() == 2


def test_time_limit_enforced(user, make_quiz):
    quiz = make_quiz(time_limit_minutes=10)
    start = timezone.now() - timedelta(minutes=11)
    attempt, _ = services.attempt_start(user=user, quiz=quiz, now=start)
    question = quiz.questions.get(question_text="2 + 2?")
    four = question.options.get(text="4")
    services.attempt_response_submit(attempt=attempt, question_id=question.pk, selected_options=[four.pk],
                                     now=start + timedelta(minutes=5))
    client = client_for(user)
    late = client.post(f"{ATTEMPTS}{attempt.pk}/submit_response/",
                       {"question": str(question.pk), "selected_options": []}, format="json")
    assert late.status_code == 409 and late.json()["error_code"] == "TIME_LIMIT_EXCEEDED"
    attempt.refresh_from_db()
    assert attempt.status == "completed" and attempt.timed_out
    assert attempt.score == 2  # the answer given in time still counts; the late one did not replace it
    assert attempt.completed_at == attempt.deadline
    result = client.get(f"{ATTEMPTS}{attempt.pk}/").json()
    assert result["time_taken_minutes"] == 10.0 and result["timed_out"] is True


def test_expired_attempt_is_closed_when_starting_again(user, make_quiz):
    quiz = make_quiz(time_limit_minutes=5, max_attempts=2)
    old, _ = services.attempt_start(user=user, quiz=quiz, now=timezone.now() - timedelta(minutes=30))
    new, created = services.attempt_start(user=user, quiz=quiz)
    old.refresh_from_db()
    assert created and new.pk != old.pk and old.status == "completed" and old.timed_out


@pytest.mark.parametrize("body", [
    {"question": "not-a-uuid"},
    {"question": "00000000-0000-0000-0000-000000000000"},
    {},
])
def test_submit_response_validation(api_client, user, make_quiz, body):
    attempt, _ = services.attempt_start(user=user, quiz=make_quiz())
    response = api_client.post(f"{ATTEMPTS}{attempt.pk}/submit_response/", body, format="json")
    assert response.status_code == 400


def test_option_of_another_question_rejected(api_client, user, make_quiz):
    quiz = make_quiz()
    attempt, _ = services.attempt_start(user=user, quiz=quiz)
    mc = quiz.questions.get(question_text="2 + 2?")
    foreign = quiz.questions.get(question_text="0 is even.").options.first()
    response = api_client.post(f"{ATTEMPTS}{attempt.pk}/submit_response/",
                               {"question": str(mc.pk), "selected_options": [str(foreign.pk)]}, format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_OPTION"


def test_randomized_order_is_a_permutation(user, make_quiz):
    quiz = make_quiz(randomize_questions=True)
    attempt, _ = services.attempt_start(user=user, quiz=quiz)
    assert sorted(attempt.questions_order) == sorted(str(pk) for pk in quiz.questions.values_list("id", flat=True))


def test_empty_quiz_cannot_start(api_client, user):
    quiz = services.quiz_create(user=user, title="Empty")
    response = api_client.post(f"{QUIZZES}{quiz.pk}/start_attempt/")
    assert response.status_code == 400 and response.json()["error_code"] == "QUIZ_EMPTY"


def test_quiz_list_query_count(api_client, make_quiz, django_assert_num_queries):
    for _ in range(3):
        make_quiz()
    with django_assert_num_queries(2):  # user, page (a page that is not full needs no COUNT)
        data = api_client.get(QUIZZES).json()
    assert data["count"] == 3 and all(q["question_count"] == 3 for q in data["results"])
    with django_assert_num_queries(3):  # user, page, count
        data = api_client.get(QUIZZES + "?page_size=2").json()
    assert data["count"] == 3 and len(data["results"]) == 2 and data["next"]


def test_author_updates_and_deletes(teacher, make_quiz):
    quiz = make_quiz()
    client = client_for(teacher)
    response = client.patch(f"{QUIZZES}{quiz.pk}/", {"passing_score": 90, "max_attempts": 1}, format="json")
    assert response.status_code == 200 and response.json()["passing_score"] == 90
    assert response.json()["question_count"] == 3
    assert client.patch(f"{QUIZZES}{quiz.pk}/", {"passing_score": 101}, format="json").status_code == 400
    authored = client.get(f"{QUIZZES}{quiz.pk}/questions/").json()
    assert all("is_correct" in o for q in authored for o in q["options"])  # authors see answers
    assert client.delete(f"{QUIZZES}{quiz.pk}/").status_code == 204


def test_attempt_list_is_own_and_query_count(api_client, user, other_user, make_quiz, django_assert_num_queries):
    for _ in range(3):
        attempt, _ = services.attempt_start(user=user, quiz=make_quiz())
        services.attempt_complete(attempt=attempt)
    with django_assert_num_queries(3):
        data = api_client.get(ATTEMPTS).json()
    assert data["count"] == 3 and all(a["status"] == "completed" for a in data["results"])
    assert client_for(other_user).get(ATTEMPTS).json()["count"] == 0


def test_authors_see_every_students_attempts(teacher, user, api_client, make_quiz, django_assert_num_queries):
    quiz = make_quiz()
    attempt, _ = services.attempt_start(user=user, quiz=quiz)
    services.attempt_complete(attempt=attempt)
    client = client_for(teacher)
    with django_assert_num_queries(5):  # user, quiz, author check, count, page
        data = client.get(f"{QUIZZES}{quiz.pk}/attempts/").json()
    assert data["count"] == 1 and data["results"][0]["user"] == user.pk
    assert api_client.get(f"{QUIZZES}{quiz.pk}/attempts/").status_code == 403
