"""The study and account pages rendered by Django (issue 14 items 4-7): what they show, that
they change state through the API's services, bad input, and their query counts. The browser
flows are in test_study_browser.py."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import GroupFactory, UserFactory
from tutorhub.assessments.models import Flashcard, QuizAttempt
from tutorhub.assessments.schedulers import SCHEDULERS
from tutorhub.assessments.services import flashcards as flashcard_services
from tutorhub.assessments.services import quizzes as quiz_services
from tutorhub.web.templatetags.study import interval

pytestmark = pytest.mark.django_db

XSS = '<img src=x onerror=alert(1)><script>alert("x")</script>'


@pytest.fixture
def student(client):
    user = UserFactory()
    client.force_login(user)
    return user


def _quiz(owner, *, time_limit=None, show_results=True, title="Cells"):
    quiz = quiz_services.quiz_create(
        user=owner, title=title, time_limit_minutes=time_limit, show_results_immediately=show_results
    )
    quiz_services.question_create(
        quiz=quiz, question_text=f"Which organelle makes ATP? {XSS}", explanation=f"Mitochondria do. {XSS}",
        options=[{"text": "Mitochondrion", "is_correct": True}, {"text": f"Ribosome {XSS}", "is_correct": False}],
    )
    quiz_services.question_create(
        quiz=quiz, question_text="Name the cell's control centre.", question_type="short_answer", correct_text="nucleus",
    )
    return quiz


# --- flashcards ------------------------------------------------------------------------------
def test_review_buttons_show_the_schedulers_own_next_intervals(client, student):
    card = flashcard_services.flashcard_create(user=student, question=f"Q {XSS}", answer="A")
    body = client.get("/flashcards/").content.decode()
    assert XSS not in body and "&lt;img src=x" in body
    now = timezone.now()
    for quality in (1, 3, 4, 5):
        expected = SCHEDULERS["fsrs"].review(None, quality=quality, reviewed_at=now).interval_days
        assert re.search(rf'data-quality="{quality}"[^>]*>\s*<span class="rating-label">\w+</span>\s*'
                         rf'<span class="rating-interval">{re.escape(interval(expected))}</span>', body), quality
    # A card reviewed "Good" twice is further out: its buttons read longer intervals.
    flashcard_services.flashcard_review(flashcard=card, quality_response=4, reviewed_at=now - timedelta(days=30))
    Flashcard.objects.filter(pk=card.pk).update(next_review_date=now - timedelta(days=1))
    body = client.get("/flashcards/").content.decode()
    good = re.search(r'data-quality="4"[^>]*>\s*<span class="rating-label">Good</span>\s*<span class="rating-interval">([^<]+)<', body)
    assert good and good.group(1).endswith((" d", " mo", " y"))


def test_interval_labels():
    assert [interval(d) for d in (0.0001, 10 / 1440, 0.25, 3, 61, 548)] == ["<1 min", "10 min", "6 h", "3 d", "2 mo", "1.5 y"]


def test_the_review_page_query_count_does_not_grow_with_cards(client, student):
    for i in range(3):
        flashcard_services.flashcard_create(user=student, question=f"q{i}", answer="a")
    with CaptureQueriesContext(connection) as few:
        assert client.get("/flashcards/").status_code == 200
    for i in range(20):
        flashcard_services.flashcard_create(user=student, question=f"more{i}", answer="a")
    with CaptureQueriesContext(connection) as many:
        assert client.get("/flashcards/").status_code == 200
    assert len(many) == len(few) <= 6  # session, user, due queue, scheduler settings, cards, documents


def test_create_and_edit_a_card_and_bad_input(client, student):
    assert client.post("/flashcards/new/", {"question": "", "answer": "x"}).status_code == 400
    assert client.post("/flashcards/new/", {"question": "q" * 4001, "answer": "x"}).status_code == 400
    assert not Flashcard.objects.filter(user=student).exists()
    response = client.post("/flashcards/new/", {"question": f"What is ATP? {XSS}", "answer": "Energy"})
    assert response.status_code == 302 and response.url == "/flashcards/"
    card = Flashcard.objects.get(user=student)
    assert card.question.endswith(XSS)  # stored as typed, escaped when shown
    response = client.post(f"/flashcards/{card.pk}/edit/", {"question": "What is ADP?", "answer": "Less energy"})
    assert response.status_code == 302
    card.refresh_from_db()
    assert (card.question, card.answer) == ("What is ADP?", "Less energy")


def test_someone_elses_card_is_not_found(client, student):
    other = flashcard_services.flashcard_create(user=UserFactory(), question="theirs", answer="a")
    assert client.get(f"/flashcards/{other.pk}/edit/").status_code == 404
    assert client.post(f"/flashcards/{other.pk}/edit/", {"question": "mine", "answer": "a"}).status_code == 404


# --- quizzes ---------------------------------------------------------------------------------
def test_take_a_quiz_and_see_results_with_explanations(client, student):
    quiz = _quiz(student)
    body = client.get("/quizzes/").content.decode()
    assert "Cells" in body and "2 questions" in body
    response = client.post(f"/quizzes/{quiz.pk}/start/")
    attempt = QuizAttempt.objects.get(user=student)
    assert response.status_code == 302 and response.url == f"/quizzes/attempts/{attempt.pk}/"
    page = client.get(response.url).content.decode()
    assert XSS not in page and "Which organelle makes ATP?" in page
    questions = {q.question_type: q for q in quiz.questions.all()}
    choice = questions["multiple_choice"]
    right = choice.options.get(is_correct=True)
    data = {f"q-{choice.pk}": str(right.pk), f"text-{questions['short_answer'].pk}": "Nucleus"}
    assert client.post(response.url, data).status_code == 302
    attempt.refresh_from_db()
    assert attempt.status == QuizAttempt.Status.COMPLETED and attempt.percentage_score == 100
    result = client.get(response.url).content.decode()
    assert "100%" in result and "Mitochondria do." in result and XSS not in result


def test_answers_the_page_saved_are_not_written_again_by_the_final_submit(client, student, monkeypatch):
    """The page stores each answer as it is given; the form's submit grades them and stores only
    what differs (one write path: attempt_response_submit)."""
    quiz = _quiz(student)
    client.post(f"/quizzes/{quiz.pk}/start/")
    attempt = QuizAttempt.objects.get(user=student)
    questions = {q.question_type: q for q in quiz.questions.all()}
    choice, short = questions["multiple_choice"], questions["short_answer"]
    right = choice.options.get(is_correct=True)
    quiz_services.attempt_response_submit(attempt=attempt, question_id=choice.pk, selected_options=[str(right.pk)])
    quiz_services.attempt_response_submit(attempt=attempt, question_id=short.pk, text_answer="Golgi")
    writes = []
    real_submit = quiz_services.attempt_response_submit
    monkeypatch.setattr(quiz_services, "attempt_response_submit", lambda **kw: writes.append(kw["question_id"]) or real_submit(**kw))
    form = {f"q-{choice.pk}": str(right.pk), f"text-{short.pk}": "Nucleus"}  # the last change was not saved yet
    assert client.post(f"/quizzes/attempts/{attempt.pk}/", form).status_code == 302
    assert [str(q) for q in writes] == [str(short.pk)]
    attempt.refresh_from_db()
    assert attempt.status == QuizAttempt.Status.COMPLETED and attempt.percentage_score == 100
    assert attempt.responses.get(question=short).text_answer == "Nucleus"


def test_results_hide_answers_when_the_quiz_says_so(client, student):
    """A teacher's quiz in the student's course group, set not to show results."""
    group = GroupFactory()
    group.students.add(student)
    quiz = _quiz(group.teacher, show_results=False)
    quiz.course = group.course
    quiz.save(update_fields=["course"])
    client.post(f"/quizzes/{quiz.pk}/start/")
    attempt = QuizAttempt.objects.get(user=student)
    assert client.post(f"/quizzes/attempts/{attempt.pk}/", {}).status_code == 302
    body = client.get(f"/quizzes/attempts/{attempt.pk}/").content.decode()
    assert "does not show answers" in body and "Mitochondria do." not in body and "0%" in body


def test_the_time_limit_is_enforced_by_the_server(client, student):
    quiz = _quiz(student, time_limit=1)
    client.post(f"/quizzes/{quiz.pk}/start/")
    attempt = QuizAttempt.objects.get(user=student)
    page = client.get(f"/quizzes/attempts/{attempt.pk}/").content.decode()
    assert 'data-seconds-left="' in page and "limit 1 min" in page
    QuizAttempt.objects.filter(pk=attempt.pk).update(
        started_at=timezone.now() - timedelta(minutes=5), deadline=timezone.now() - timedelta(minutes=4)
    )
    choice = quiz.questions.get(question_type="multiple_choice")
    late = {f"q-{choice.pk}": str(choice.options.get(is_correct=True).pk)}
    assert client.post(f"/quizzes/attempts/{attempt.pk}/", late).status_code == 302
    attempt.refresh_from_db()
    assert attempt.status == QuizAttempt.Status.COMPLETED and attempt.timed_out and attempt.correct_answers == 0
    assert "time limit passed" in client.get(f"/quizzes/attempts/{attempt.pk}/").content.decode()


def test_a_forged_option_is_a_400_and_grades_nothing(client, student):
    quiz = _quiz(student)
    client.post(f"/quizzes/{quiz.pk}/start/")
    attempt = QuizAttempt.objects.get(user=student)
    choice = quiz.questions.get(question_type="multiple_choice")
    response = client.post(f"/quizzes/attempts/{attempt.pk}/", {f"q-{choice.pk}": "00000000-0000-0000-0000-000000000001"})
    assert response.status_code == 400
    attempt.refresh_from_db()
    assert attempt.status == QuizAttempt.Status.IN_PROGRESS


def test_an_empty_quiz_cannot_be_started(client, student):
    quiz = quiz_services.quiz_create(user=student, title="Empty")
    response = client.post(f"/quizzes/{quiz.pk}/start/")
    assert response.status_code == 400 and b"no questions" in response.content


def test_someone_elses_attempt_is_not_found(client, student):
    owner = UserFactory()
    attempt, _ = quiz_services.attempt_start(user=owner, quiz=_quiz(owner))
    assert client.get(f"/quizzes/attempts/{attempt.pk}/").status_code == 404


# --- progress --------------------------------------------------------------------------------
def test_progress_page_draws_real_data_as_svg(client, student):
    now = timezone.now()
    for days in (0, 0, 3):
        card = flashcard_services.flashcard_create(user=student, question=f"Topic {XSS}", answer="a")
        Flashcard.objects.filter(pk=card.pk).update(next_review_date=now + timedelta(days=days, minutes=1))
    quiz = _quiz(student)
    attempt, _ = quiz_services.attempt_start(user=student, quiz=quiz)
    quiz_services.attempt_complete(attempt=attempt)  # no answers: 0%
    body = client.get("/progress/").content.decode()
    assert body.count("<svg") >= 3  # the icon sprite aside, the due and score charts
    assert 'aria-labelledby="due-chart-title"' in body and 'aria-labelledby="score-chart-title"' in body
    assert XSS not in body
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th><td>(\d+)</td></tr>", body)
    assert sum(int(n) for _name, n in rows[:14]) == 3


def test_progress_page_query_count(client, student):
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/progress/").status_code == 200
    assert len(queries) <= 9


# --- accounts --------------------------------------------------------------------------------
def test_forgot_and_reset_password_through_the_api_flow(client, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    user = UserFactory(email="learner@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password/forgot/", {"email": "Learner@example.com"})
    assert response.status_code == 200 and b"If an account exists" in response.content
    assert client.post("/accounts/password/forgot/", {"email": "not-an-email"}).status_code == 400
    link = re.search(r"https?://\S+/reset-password\?uid=(\S+)&token=(\S+)", mail.outbox[-1].body)
    uid, token = link.groups()
    page = client.get(f"/reset-password/?uid={uid}&token={token}")
    assert page.status_code == 200 and b"Choose a new password" in page.content
    weak = client.post("/reset-password/", {"uid": uid, "token": token, "new_password": "123", "confirm": "123"})
    assert weak.status_code == 400
    new = "a-Much-better-passw0rd"
    done = client.post("/reset-password/", {"uid": uid, "token": token, "new_password": new, "confirm": new})
    assert done.status_code == 200 and b"has been reset" in done.content
    user.refresh_from_db()
    assert user.check_password(new)
    reused = client.post("/reset-password/", {"uid": uid, "token": token, "new_password": new + "x", "confirm": new + "x"})
    assert reused.status_code == 400 and b"invalid or has expired" in reused.content


def test_reset_page_without_a_link(client):
    assert client.get("/reset-password/").status_code == 400


def test_profile_page_edits_through_the_api_validation(client, student):
    assert client.get("/accounts/profile/").status_code == 200
    bad = client.post("/accounts/profile/", {"first_name": "Ada", "timezone": "Mars/Olympus"})
    assert bad.status_code == 400 and b"Unknown time zone" in bad.content
    student.refresh_from_db()
    assert student.first_name != "Ada"
    ok = client.post("/accounts/profile/", {"first_name": XSS, "timezone": "Europe/Berlin", "language": "de"})
    assert ok.status_code == 302
    student.refresh_from_db()
    assert (student.first_name, student.timezone) == (XSS, "Europe/Berlin")
    assert XSS not in client.get("/accounts/profile/").content.decode()


@pytest.mark.parametrize("path", ["/flashcards/", "/quizzes/", "/progress/", "/accounts/profile/"])
def test_pages_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_every_page_links_its_theme_script_before_the_body(client, student):
    body = client.get("/flashcards/").content.decode()
    head = body.split("<body", 1)[0]
    assert "/static/web/theme.js" in head and "data-theme-toggle" in body


def test_login_links_to_forgot_password(client):
    assert b"/accounts/password/forgot/" in client.get("/accounts/login/").content



def test_mastery_per_topic_is_drawn_with_the_topic_escaped(client, student):
    topic = "<img src=x onerror=alert(1)>"
    card = flashcard_services.flashcard_create(user=student, question="q", answer="a", tags=[topic, "cells"])
    flashcard_services.flashcard_review(flashcard=card, quality_response=5)
    body = client.get("/progress/").content.decode()
    assert 'aria-labelledby="mastery-chart-title"' in body
    assert topic not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
    bars = re.findall(r'<rect class="chart-bar"[^>]*><title>([^<]*)</title>', body.split("mastery-chart-title", 1)[1])
    assert bars and bars[0].startswith("&lt;img")
