"""Study sessions: start, complete with progress updates, stats from stored sessions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.conftest import client_for
from tests.learning.conftest import make_session
from tutorhub.learning.models import LearnerEvent, StudySession

pytestmark = pytest.mark.django_db
URL = "/api/v1/learning/study-sessions/"


def test_start_and_complete_a_session(api_client, plan, make_goal, user):
    g1, g2 = make_goal("Derivatives"), make_goal("Integrals")
    res = api_client.post(
        URL,
        {"study_plan": str(plan.pk), "session_type": "focused_study", "planned_duration_minutes": 90,
         "focus_areas": ["derivatives", "chain_rule"], "learning_objectives": ["Complete practice problems"]},
        format="json",
    )
    assert res.status_code == 201, res.json()
    sid = res.json()["id"]
    assert res.json()["status"] == "active"
    # Pretend it started 45 minutes ago
    StudySession.objects.filter(pk=sid).update(started_at=timezone.now() - dt.timedelta(minutes=45))
    body = {
        "productivity_rating": 4, "notes": "Good progress", "topics_covered": ["chain_rule", "product_rule"],
        "goals_worked_on": [str(g1.pk), str(g2.pk)], "progress_updates": [{"goal_id": str(g1.pk), "progress_percentage": 80}],
    }
    res = api_client.post(f"{URL}{sid}/complete/", body, format="json")
    assert res.status_code == 200, res.json()
    data = res.json()
    assert data["status"] == "completed" and 44.9 < data["duration_minutes"] < 46
    assert sorted(data["goals_worked_on"]) == sorted([str(g1.pk), str(g2.pk)])
    g1.refresh_from_db()
    assert g1.progress_percentage == 80 and g1.status == "in_progress"
    events = LearnerEvent.objects.filter(user=user, kind="study").order_by("topic")
    assert [(e.topic, round(e.duration_seconds / 60)) for e in events] == [("chain rule", 22), ("product rule", 22)]
    assert api_client.post(f"{URL}{sid}/complete/", {}, format="json").status_code == 409
    # Deleting the session removes its study-time evidence as well
    assert api_client.delete(f"{URL}{sid}/").status_code == 204
    assert not LearnerEvent.objects.filter(user=user, kind="study").exists()


def test_complete_rejects_foreign_goals_and_bad_ratings(api_client, user, other_user):
    from tutorhub.learning.models import LearningGoal, StudyPlan

    today = timezone.localdate()
    foreign_plan = StudyPlan.objects.create(user=other_user, title="x", start_date=today, end_date=today)
    foreign_goal = LearningGoal.objects.create(study_plan=foreign_plan, title="x")
    sid = api_client.post(URL, {}, format="json").json()["id"]
    bad = api_client.post(f"{URL}{sid}/complete/", {"goals_worked_on": [str(foreign_goal.pk)]}, format="json")
    assert bad.status_code == 400
    assert api_client.post(f"{URL}{sid}/complete/", {"productivity_rating": 9}, format="json").status_code == 400
    assert StudySession.objects.get(pk=sid).status == "active"  # nothing half-written
    assert client_for(other_user).post(f"{URL}{sid}/complete/", {}, format="json").status_code == 404
    assert api_client.post(URL, {"study_plan": str(foreign_plan.pk)}, format="json").status_code == 400


def test_stats_are_computed_from_sessions(api_client, user):
    user.timezone = "UTC"
    user.save()
    today = timezone.now().replace(minute=0, second=0, microsecond=0)
    day = lambda n, h: today.replace(hour=h) - dt.timedelta(days=n)  # noqa: E731
    make_session(user, started_at=day(0, 19), minutes=120, rating=5)
    make_session(user, started_at=day(1, 19), minutes=60, rating=4)
    make_session(user, started_at=day(2, 8), minutes=30, rating=2)
    make_session(user, started_at=day(6, 8), minutes=30, rating=3)
    stats = api_client.get(URL + "stats/").json()
    assert stats["total_sessions"] == 4 and stats["total_hours"] == 4.0
    assert stats["average_duration_minutes"] == 60.0 and stats["average_productivity"] == 3.5
    assert stats["sessions_by_hour"] == [{"hour": 8, "count": 2, "avg_duration": 30.0}, {"hour": 19, "count": 2, "avg_duration": 90.0}]
    assert stats["most_productive_hours"][0] == {"hour": 19, "count": 2, "avg_productivity": 4.5}
    assert stats["current_streak"] == {"current": 3, "longest": 3}
    # Date filters narrow the window
    start = (timezone.now() - dt.timedelta(days=1)).date().isoformat()
    assert api_client.get(URL + "stats/", {"start_date": start}).json()["total_sessions"] == 2
    assert api_client.get(URL + "stats/", {"start_date": "not-a-date"}).status_code == 400
    # Adding a session changes the figures
    make_session(user, started_at=day(3, 19), minutes=60, rating=1)
    stats = api_client.get(URL + "stats/").json()
    assert stats["total_sessions"] == 5 and stats["current_streak"] == {"current": 4, "longest": 4}


def test_list_is_scoped_and_paginated(api_client, user, other_user, django_assert_max_num_queries):
    for i in range(3):
        make_session(user, started_at=timezone.now() - dt.timedelta(days=i), minutes=10)
    make_session(other_user, started_at=timezone.now(), minutes=10)
    with django_assert_max_num_queries(6):
        res = api_client.get(URL, {"page_size": 2})
    assert res.json()["count"] == 3 and len(res.json()["results"]) == 2
