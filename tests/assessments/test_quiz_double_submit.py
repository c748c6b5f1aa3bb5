"""Double submits of a seed-000 quiz (issue 12): 20 parallel submits of the same answers make one
attempt, decided by the unique submission key and the one-running-attempt rule, not by timing."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from tests.conftest import client_for
from tests.factories import CourseFactory, GroupFactory, UserFactory
from tutorhub.assessments import services
from tutorhub.assessments.models import QuizAttempt

PARALLEL = 20


def _quiz_for_a_student():
    teacher, student = UserFactory(role="teacher"), UserFactory()
    group = GroupFactory(teacher=teacher, course=CourseFactory(owner=teacher, name="Algebra"))
    group.students.add(student)
    quiz = services.quiz_create(user=teacher, title="Algebra basics", course=group.course, topic="Algebra", max_attempts=3)
    services.question_create(
        quiz=quiz, question_text="2 + 2?", options=[{"text": "3"}, {"text": "4", "is_correct": True}],
    )
    services.question_create(quiz=quiz, question_text="0 is even.", question_type="true_false", correct_text="true")
    return quiz, student


def _in_parallel(fn, n=PARALLEL):
    """Run fn(i) in n threads released together; returns their results (exceptions included)."""
    barrier, results = threading.Barrier(n), [None] * n

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[i] = exc
        finally:
            connections.close_all()  # each thread's own connection, before the test database goes

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.mark.django_db(transaction=True)
def test_parallel_http_submits_of_the_same_answers_make_one_attempt():
    quiz, student = _quiz_for_a_student()

    def submit(_):
        response = client_for(student).post(f"/api/quiz/{quiz.pk}/submit/", {"answers": ["4", "true"]}, format="json")
        return response.status_code, response.json()

    results = _in_parallel(submit)
    assert all(not isinstance(r, Exception) for r in results), results
    assert {status for status, _ in results} == {200}, results
    assert QuizAttempt.objects.filter(quiz=quiz, user=student).count() == 1
    attempt = QuizAttempt.objects.get(quiz=quiz, user=student)
    assert attempt.status == "completed" and attempt.percentage_score == 100.0
    assert {body["attempt_id"] for _, body in results} == {str(attempt.pk)}
    assert attempt.responses.count() == 2  # answered once, not once per request


@pytest.mark.django_db(transaction=True)
def test_different_answers_are_separate_attempts_up_to_max_attempts():
    quiz, student = _quiz_for_a_student()
    client = client_for(student)
    first = client.post(f"/api/quiz/{quiz.pk}/submit/", {"answers": ["3", "true"]}, format="json").json()
    again = client.post(f"/api/quiz/{quiz.pk}/submit/", {"answers": ["3", "true"]}, format="json").json()
    assert first == again and first["score"] == 50.0
    better = client.post(f"/api/quiz/{quiz.pk}/submit/", {"answers": ["4", "true"]}, format="json").json()
    assert better["score"] == 100.0 and better["attempt_id"] != first["attempt_id"]
    assert QuizAttempt.objects.filter(quiz=quiz, user=student).count() == 2


@pytest.mark.django_db(transaction=True)
def test_parallel_starts_share_one_running_attempt():
    quiz, student = _quiz_for_a_student()
    results = _in_parallel(lambda _: services.attempt_start(user=student, quiz=quiz))
    assert all(not isinstance(r, Exception) for r in results), results
    assert len({attempt.pk for attempt, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert QuizAttempt.objects.filter(quiz=quiz, user=student).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_a_second_running_attempt_or_a_reused_submission_key():
    """The rules hold even for code that skips the service's lock."""
    quiz, student = _quiz_for_a_student()
    now = timezone.now()
    QuizAttempt.objects.create(quiz=quiz, user=student, started_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        QuizAttempt.objects.create(quiz=quiz, user=student, started_at=now)
    QuizAttempt.objects.create(quiz=quiz, user=student, started_at=now, status="completed", submission_key="k" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        QuizAttempt.objects.create(quiz=quiz, user=student, started_at=now, status="completed", submission_key="k" * 64)
    # Unkeyed completed attempts (the attempt API) are not limited by the key rule.
    QuizAttempt.objects.create(quiz=quiz, user=student, started_at=now, status="completed")
    QuizAttempt.objects.create(quiz=quiz, user=student, started_at=now, status="completed")
