"""Analytics and dashboards move with the stored activity (no constant or random figures)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.learning.conftest import make_event, make_session
from tutorhub.learning.analytics import streaks

pytestmark = pytest.mark.django_db
A = "/api/v1/learning/analytics/"


def test_streak_rules():
    d = dt.date(2026, 1, 10)
    days = {d, d - dt.timedelta(days=1), d - dt.timedelta(days=2), d - dt.timedelta(days=5)}
    assert streaks(days, d) == {"current": 3, "longest": 3}
    assert streaks(days, d + dt.timedelta(days=1)) == {"current": 3, "longest": 3}  # today not studied yet
    assert streaks(days, d + dt.timedelta(days=2)) == {"current": 0, "longest": 3}
    assert streaks(set(), d) == {"current": 0, "longest": 0}


def test_overview_changes_with_activity(api_client, user, plan, make_goal):
    empty = api_client.get(A + "overview/").json()
    assert empty["total_study_hours"] == 0 and empty["goals_completed"] == 0
    assert empty["productivity_patterns"] == {"best_hours": [], "peak_productivity_time": None}
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    make_session(user, started_at=now.replace(hour=19) - dt.timedelta(days=1), minutes=90, rating=5, plan=plan)
    make_session(user, started_at=now.replace(hour=9) - dt.timedelta(days=2), minutes=60, rating=2, plan=plan)
    goal = make_goal("Done", estimated_hours=1)
    api_client.post(f"/api/v1/learning/goals/{goal.pk}/complete/")
    make_goal("Open", estimated_hours=1, target_date=timezone.localdate() - dt.timedelta(days=1))  # due, missed
    make_goal("Later", estimated_hours=1)  # neither due nor done in the window: not counted
    data = api_client.get(A + "overview/", {"days": 10}).json()
    assert data["days"] == 10 and data["total_study_hours"] == 2.5 and data["average_daily_hours"] == 0.25
    assert data["goals_completed"] == 1 and data["completion_rate"] == 50.0
    assert sum(w["count"] for w in data["progress_by_week"]) == 2
    assert sum(w["goals_completed"] for w in data["progress_by_week"]) == 1
    velocity = data["learning_velocity"]
    assert velocity["current_velocity"] == 0.25 and velocity["target_velocity"] == round(10 / 7, 2)
    assert velocity["status"] == "behind"
    assert data["productivity_patterns"]["peak_productivity_time"] == 19
    assert data["recommendations"][0]["message"] == "Schedule important study sessions around 19:00"
    assert api_client.get(A + "overview/", {"days": 0}).status_code == 400
    assert api_client.get(A + "overview/", {"days": "abc"}).status_code == 400


def test_performance_trends_follow_scores(api_client, user):
    for _ in range(3):
        make_event(user, "quiz_answer", "fractions", 0.2, days_ago=20)
        make_event(user, "quiz_answer", "fractions", 1.0, days_ago=1)
    make_event(user, "flashcard_review", "decimals", 0.8, days_ago=1)
    make_event(user, "study", "fractions", None, days_ago=1, duration=1800)
    data = api_client.get(A + "performance_trends/", {"weeks": 4}).json()
    assert len(data["series"]) == 4
    last = data["series"][-1]
    quiz_weeks = [r for r in data["series"] if r["quiz_count"]]
    assert [r["quiz_average"] for r in quiz_weeks] == [20.0, 100.0]
    assert sum(r["flashcards_count"] for r in data["series"]) == 1
    assert sum(r["study_minutes"] for r in data["series"]) == 30.0
    assert last["average_mastery"] is not None
    fractions = next(t for t in data["topics"] if t["topic"] == "fractions")
    assert fractions["trend"] == "new"  # the 4-week window starts 21-27 days ago: no evidence before it
    # The 2-week window starts 7-13 days ago: the low scores are before it, the high ones inside.
    recent = api_client.get(A + "performance_trends/", {"weeks": 2}).json()
    fractions = next(t for t in recent["topics"] if t["topic"] == "fractions")
    assert fractions["trend"] == "improving" and fractions["change"] > 0
    assert api_client.get(A + "performance_trends/", {"weeks": 99}).status_code == 400


def test_learning_path_analysis(api_client, user, plan, make_goal):
    a = make_goal("Limits", estimated_hours=4)
    b = make_goal("Derivatives", estimated_hours=6, prerequisites=[a])
    make_goal("Integrals", estimated_hours=5, prerequisites=[b])
    make_goal("Series", estimated_hours=2)
    data = api_client.get(A + "learning_path_analysis/").json()["plans"][0]
    assert data["remaining_hours"] == 17 and data["critical_path_hours"] == 15
    assert data["projected_completion_date"] is None  # no recent pace yet
    assert set(data["next_goals"]) == {str(a.pk), next(g["id"] for g in data["goals"] if g["title"] == "Series")}
    assert data["bottlenecks"][0] == str(a.pk)
    make_session(user, started_at=timezone.now() - dt.timedelta(days=1), minutes=14 * 60, plan=plan)
    api_client.post(f"/api/v1/learning/goals/{a.pk}/complete/")
    data = api_client.get(A + "learning_path_analysis/").json()["plans"][0]
    assert data["remaining_hours"] == 13 and data["critical_path_hours"] == 11
    assert data["recent_pace_hours_per_day"] == 1.0
    assert data["projected_completion_date"] == (timezone.localdate() + dt.timedelta(days=13)).isoformat()
    assert str(b.pk) in data["next_goals"]


def test_accounts_dashboard_shape_and_values(api_client, user, plan, make_goal, today):
    empty = api_client.get("/api/v1/accounts/dashboard/").json()
    assert empty == {
        "study_streak": {"current": 0, "longest": 0}, "weekly_hours": 0.0, "goals_completed_this_month": 0,
        "upcoming_deadlines": [], "recent_achievements": [],
    }
    now = timezone.now()
    for n in range(7):
        make_session(user, started_at=now - dt.timedelta(days=n), minutes=60)
    goal = make_goal("Finish chapter 1", estimated_hours=1)
    api_client.post(f"/api/v1/learning/goals/{goal.pk}/complete/")
    make_goal("Complete derivative practice", target_date=today + dt.timedelta(days=3), priority=1)
    data = api_client.get("/api/v1/accounts/dashboard/").json()
    assert data["study_streak"] == {"current": 7, "longest": 7}
    assert data["weekly_hours"] == 7.0 and data["goals_completed_this_month"] == 1
    assert data["upcoming_deadlines"][0]["title"] == "Complete derivative practice"
    assert data["upcoming_deadlines"][0]["priority"] == "high"
    types = {a["type"] for a in data["recent_achievements"]}
    assert types == {"goal_completed", "study_streak"}
    assert any(a["title"] == "7-day study streak!" for a in data["recent_achievements"])
    from tutorhub.engagement.models import Achievement

    Achievement.objects.create(user=user, code="first_quiz", title="First quiz")
    data = api_client.get("/api/v1/accounts/dashboard/").json()
    assert data["recent_achievements"][0]["title"] == "First quiz"


def test_learning_dashboard(api_client, user, plan, make_goal, today, django_assert_max_num_queries):
    make_goal("A", estimated_hours=2, target_date=today + dt.timedelta(days=1))
    make_goal("B", estimated_hours=2, target_date=today - dt.timedelta(days=1))
    api_client.post(f"/api/v1/learning/study-plans/{plan.pk}/generate_schedule/", {"hours_per_day": 1, "save_schedule": True}, format="json")
    for _ in range(3):
        make_event(user, "quiz_answer", "limits", 0.0)
    with django_assert_max_num_queries(12):
        data = api_client.get("/api/v1/learning/study-plans/dashboard/").json()
    assert data["active_plans"] == 1 and data["goals"] == {"total": 2, "completed": 0, "in_progress": 0, "overdue": 1}
    assert len(data["todays_schedule"]) == 1 and data["todays_schedule"][0]["duration_hours"] == 1
    assert data["weak_topics"][0]["topic"] == "limits"
    assert data["plans"][0]["completion_rate"] == 0
