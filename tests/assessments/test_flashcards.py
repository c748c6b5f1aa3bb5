"""Flashcards API (seed 001): CRUD, filters, due/, review/, stats/, scheduler choice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import client_for
from tests.factories import CourseFactory
from tutorhub.assessments import services
from tutorhub.assessments.models import Flashcard, FlashcardReview
from tutorhub.learning.models import LearnerEvent

URL = "/api/v1/assessments/flashcards/"
pytestmark = pytest.mark.django_db


def test_create_with_seed_fields(api_client, course):
    body = {
        "course": str(course.pk), "question": "What is the capital of France?", "answer": "Paris",
        "difficulty_level": "easy", "tags": ["geography", "europe"],
        "explanation": "Paris is the capital and largest city of France.",
    }
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["course"] == str(course.pk) and data["tags"] == ["geography", "europe"]
    assert data["mastery_level"] == "new" and data["total_reviews"] == 0 and data["ease_factor"] == 2.5
    assert data["scheduler"] == "fsrs"


def test_create_rejects_someone_elses_course_and_bad_input(api_client):
    foreign = CourseFactory()
    response = api_client.post(URL, {"course": str(foreign.pk), "question": "q", "answer": "a"}, format="json")
    assert response.status_code == 400 and "course" in response.json()["details"]
    response = api_client.post(URL, {"question": "q", "answer": "a", "difficulty_level": "insane"}, format="json")
    assert response.status_code == 400
    assert api_client.post(URL, {"question": "q", "answer": "a", "tags": "nope"}, format="json").status_code == 400


def test_list_filters(api_client, make_card, course):
    make_card(course=course, difficulty_level="easy", tags=["geography"], explanation="about Paris")
    make_card(difficulty_level="hard", tags=["history"], status="archived")
    make_card(difficulty_level="medium", tags=["geography", "rivers"])

    def ids(query):
        return len(api_client.get(URL + query).json()["results"])

    assert ids("") == 3
    assert ids(f"?course={course.pk}") == 1
    assert ids("?difficulty_level=hard") == 1
    assert ids("?status=archived") == 1
    assert ids("?tags=geography") == 2
    assert ids("?tags=geo") == 0  # whole tags only
    assert ids("?explanation=paris") == 1
    assert ids("?mastery_level=new") == 3
    assert api_client.get(URL + "?difficulty_level=insane").status_code == 400


def test_update_and_delete(api_client, make_card):
    card = make_card()
    response = api_client.patch(f"{URL}{card.pk}/", {"status": "archived", "tags": ["x"]}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "archived"
    assert api_client.delete(f"{URL}{card.pk}/").status_code == 204
    assert not Flashcard.objects.filter(pk=card.pk).exists()


def test_other_users_cards_are_404(make_card, other_user):
    card = make_card()
    other = client_for(other_user)
    assert other.get(f"{URL}{card.pk}/").status_code == 404
    assert other.post(f"{URL}{card.pk}/review/", {"quality_response": 4}, format="json").status_code == 404
    assert other.delete(f"{URL}{card.pk}/").status_code == 404
    assert other.get(URL).json()["count"] == 0
    assert other.get(URL + "due/").json() == []


def test_review_schedules_logs_and_records_learner_event(api_client, make_card, course):
    card = make_card(course=course, tags=["photosynthesis"])
    body = {"quality_response": 4, "response_time_seconds": 12, "user_answer": "Plants make food",
            "notes": "Need to review the chemical equation"}
    response = api_client.post(f"{URL}{card.pk}/review/", body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["total_reviews"] == 1 and data["success_rate"] == 1.0
    assert data["interval_days"] < 1  # FSRS learning step
    assert data["review"]["fsrs_rating"] == 3 and data["review"]["scheduler"] == "fsrs"
    log = FlashcardReview.objects.get()
    assert log.notes == body["notes"] and log.response_time_seconds == 12 and "sm2" in log.state_after
    event = LearnerEvent.objects.get()
    assert (event.kind, event.topic, event.score) == ("flashcard_review", "photosynthesis", 0.8)
    assert event.source == f"assessments.FlashcardReview:{log.pk}"


@pytest.mark.parametrize("bad", [{"quality_response": 6}, {"quality_response": -1}, {}, {"quality_response": "x"},
                                 {"quality_response": 3, "response_time_seconds": -5}])
def test_review_validates(api_client, make_card, bad):
    card = make_card()
    assert api_client.post(f"{URL}{card.pk}/review/", bad, format="json").status_code == 400
    assert FlashcardReview.objects.count() == 0


def test_archived_card_cannot_be_reviewed(api_client, make_card):
    card = make_card(status="archived")
    response = api_client.post(f"{URL}{card.pk}/review/", {"quality_response": 4}, format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "FLASHCARD_ARCHIVED"


def test_sm2_per_deck_fills_seed_fields(api_client, make_card, course):
    response = api_client.post(URL + "scheduler/", {"course": str(course.pk), "algorithm": "sm2"}, format="json")
    assert response.status_code == 200 and response.json()["algorithm"] == "sm2"
    deck_card, other_card = make_card(course=course), make_card()
    now = timezone.now()
    for quality in (5, 5):
        services.flashcard_review(flashcard=deck_card, quality_response=quality, reviewed_at=now)
        services.flashcard_review(flashcard=other_card, quality_response=quality, reviewed_at=now)
        now += timedelta(days=7)
    deck_card.refresh_from_db()
    other_card.refresh_from_db()
    assert deck_card.scheduler == "sm2" and deck_card.interval_days == 6 and deck_card.ease_factor == pytest.approx(2.7)
    assert other_card.scheduler == "fsrs" and other_card.interval_days != 6
    assert api_client.get(URL + f"scheduler/?course={course.pk}").json()["algorithm"] == "sm2"
    assert api_client.get(URL + "scheduler/").json()["algorithm"] == "fsrs"
    assert api_client.post(URL + "scheduler/", {"algorithm": "leitner"}, format="json").status_code == 400


def test_due_lists_due_cards_in_seed_shape(api_client, make_card, course):
    fresh = make_card(course=course)
    reviewed = make_card()
    services.flashcard_review(flashcard=reviewed, quality_response=5)  # due in the future now
    make_card(status="archived")
    response = api_client.get(URL + "due/")
    assert response.status_code == 200
    data = response.json()
    assert [c["id"] for c in data] == [str(fresh.pk)]
    for key in ("id", "question", "difficulty_level", "next_review_date", "success_rate", "total_reviews",
                "interval_days", "ease_factor"):
        assert key in data[0]
    assert api_client.get(URL + f"due/?course={course.pk}&limit=1").json()[0]["id"] == str(fresh.pk)
    assert api_client.get(URL + "due/?limit=0").status_code == 400
    assert api_client.get(URL + f"due/?course={CourseFactory().pk}").status_code == 404


def test_stats_from_review_history(api_client, make_card):
    now = timezone.now() - timedelta(days=400)
    new = make_card(difficulty_level="easy")  # noqa: F841 - counted as new
    mastered = make_card(difficulty_level="hard")
    difficult = make_card()
    learning = make_card()
    for quality in (5, 5, 5, 5, 5):
        review = services.flashcard_review(flashcard=mastered, quality_response=quality, reviewed_at=now)
        now = review.next_review_date
    t = timezone.now() - timedelta(days=10)
    for quality in (4, 1, 4, 1):
        services.flashcard_review(flashcard=difficult, quality_response=quality, reviewed_at=t)
        t += timedelta(days=1)
    services.flashcard_review(flashcard=learning, quality_response=4)
    data = api_client.get(URL + "stats/").json()
    assert data["total_flashcards"] == 4 and data["active_flashcards"] == 4
    assert {m["level"]: m["count"] for m in data["by_mastery"]} == {"new": 1, "learning": 1, "difficult": 1, "mastered": 1}
    assert data["mastered_flashcards"] == 1
    assert {d["difficulty_level"]: d["count"] for d in data["by_difficulty"]} == {"easy": 1, "medium": 2, "hard": 1}
    assert data["average_success_rate"] == pytest.approx((1 + 0.5 + 1) / 3, abs=1e-3)
    assert data["due_flashcards"] >= 1


def test_review_log_endpoint(api_client, make_card):
    card = make_card()
    services.flashcard_review(flashcard=card, quality_response=3)
    services.flashcard_review(flashcard=card, quality_response=5)
    data = api_client.get(f"{URL}{card.pk}/reviews/").json()
    assert data["count"] == 2 and [r["quality_response"] for r in data["results"]] == [5, 3]


def test_query_counts_are_constant(api_client, make_card, course, django_assert_num_queries):
    for i in range(3):
        make_card(course=course, tags=[f"t{i}"])
    # auth user, page - no per-card queries, and no COUNT: a page that is not full is the last
    with django_assert_num_queries(2):
        assert api_client.get(URL).status_code == 200
    with django_assert_num_queries(2):
        assert len(api_client.get(URL + "due/").json()) == 3
    for _ in range(10):
        make_card(course=course)
    with django_assert_num_queries(2):
        assert api_client.get(URL).status_code == 200
    with django_assert_num_queries(3):  # a full page: auth user, page, count
        assert api_client.get(URL + "?page_size=5").json()["count"] == 13
    with django_assert_num_queries(2):
        assert len(api_client.get(URL + "due/").json()) == 13


def test_desired_retention_shapes_fsrs_intervals(user, make_card, course):
    strict_course = CourseFactory(owner=user)
    services.scheduler_settings_update(user=user, course=strict_course, algorithm="fsrs", desired_retention=0.97)
    services.scheduler_settings_update(user=user, algorithm="fsrs", desired_retention=0.8)
    strict, relaxed = make_card(course=strict_course), make_card()
    now = timezone.now()
    for _ in range(3):
        a = services.flashcard_review(flashcard=strict, quality_response=4, reviewed_at=now)
        b = services.flashcard_review(flashcard=relaxed, quality_response=4, reviewed_at=now)
        now = max(a.next_review_date, b.next_review_date)
    assert a.interval_days < b.interval_days  # wanting 97% recall means reviewing sooner


def test_thirty_passing_reviews_through_the_api_are_all_ok(api_client, make_card, course, settings):
    """Issue 12: SM-2 (run on every review) overflowed on the 17th passing review in a row: a 500."""
    settings.FLASHCARD_MAX_INTERVAL_DAYS = 36_500
    api_client.post(URL + "scheduler/", {"course": str(course.pk), "algorithm": "sm2"}, format="json")
    card = make_card(course=course)
    for _ in range(30):
        response = api_client.post(f"{URL}{card.pk}/review/", {"quality_response": 5}, format="json")
        assert response.status_code == 200, response.content
    card.refresh_from_db()
    assert card.total_reviews == 30 and card.interval_days == 36_500
