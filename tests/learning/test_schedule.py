"""The schedule generator's rules (pure function) and the generate_schedule/ endpoint."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from tutorhub.learning.scheduling import GoalInput, generate_schedule

MON = dt.date(2026, 1, 5)  # a Monday


def sessions(result):
    return [(d["date"], s["goal_id"], s["duration_hours"], s["time_slot"]["start"], s["time_slot"]["end"]) for d in result["days"] for s in d["sessions"]]


def run(goals, **kw):
    params = dict(start=MON, end=MON + dt.timedelta(days=13), hours_per_day=2, preferred_times=["evening"], include_weekends=True)
    params.update(kw)
    return generate_schedule(goals=goals, **params)


def test_hours_per_day_and_slot_times_are_honoured():
    result = run([GoalInput(id="a", title="A", estimated_hours=5)])
    assert [d["total_hours"] for d in result["days"]] == [2, 2, 1]
    assert sessions(result)[0] == ("2026-01-05", "a", 2, "18:00", "20:00")
    assert result["unscheduled"] == []


def test_slot_length_caps_a_day_and_spills_into_the_next_preferred_slot():
    result = run([GoalInput(id="a", title="A", estimated_hours=5)], hours_per_day=5, preferred_times=["evening", "night"])
    day = result["days"][0]
    assert [(s["time_slot"]["name"], s["duration_hours"]) for s in day["sessions"]] == [("evening", 3), ("night", 2)]


def test_weekends_are_skipped_unless_included():
    goal = GoalInput(id="a", title="A", estimated_hours=12)
    without = run([goal], include_weekends=False)
    dates = [dt.date.fromisoformat(d["date"]) for d in without["days"]]
    assert all(d.weekday() < 5 for d in dates) and len(dates) == 6
    with_weekends = run([goal], include_weekends=True)
    assert [dt.date.fromisoformat(d["date"]).weekday() for d in with_weekends["days"]] == [0, 1, 2, 3, 4, 5]


def test_prerequisites_come_first_even_with_a_later_deadline():
    basics = GoalInput(id="basics", title="Basics", estimated_hours=3, target_date=MON + dt.timedelta(days=10))
    advanced = GoalInput(id="adv", title="Advanced", estimated_hours=2, target_date=MON + dt.timedelta(days=2), prerequisites=["basics"])
    order = [s[1] for s in sessions(run([advanced, basics]))]
    assert order.index("adv") > max(i for i, g in enumerate(order) if g == "basics")


def test_completed_prerequisite_does_not_block_and_progress_reduces_hours():
    done = GoalInput(id="done", title="Done", estimated_hours=3, completed=True)
    half = GoalInput(id="half", title="Half", estimated_hours=4, progress_percentage=50, prerequisites=["done"])
    result = run([done, half])
    assert [(s[1], s[2]) for s in sessions(result)] == [("half", 2)]


def test_earliest_target_date_first_then_priority():
    late = GoalInput(id="late", title="Late", estimated_hours=1, target_date=MON + dt.timedelta(days=9), priority=1)
    soon = GoalInput(id="soon", title="Soon", estimated_hours=1, target_date=MON + dt.timedelta(days=3), priority=5)
    p1 = GoalInput(id="p1", title="P1", estimated_hours=1, priority=1)
    p2 = GoalInput(id="p2", title="P2", estimated_hours=1, priority=2)
    order = [s[1] for s in sessions(run([p2, p1, late, soon], hours_per_day=1))]
    assert order == ["soon", "late", "p1", "p2"]


def test_missed_target_dates_are_flagged_and_overflow_is_reported():
    goal = GoalInput(id="a", title="A", estimated_hours=6, target_date=MON + dt.timedelta(days=1))
    result = run([goal], end=MON + dt.timedelta(days=3), hours_per_day=1)
    flags = [s["after_target_date"] for d in result["days"] for s in d["sessions"]]
    assert flags == [False, False, True, True]
    assert result["unscheduled"] == [{"goal_id": "a", "goal_title": "A", "hours": 2.0}]


def test_a_prerequisite_cycle_is_rejected():
    a = GoalInput(id="a", title="A", estimated_hours=1, prerequisites=["b"])
    b = GoalInput(id="b", title="B", estimated_hours=1, prerequisites=["a"])
    with pytest.raises(ValidationError):
        run([a, b])


def test_quarter_hour_granularity():
    result = run([GoalInput(id="a", title="A", estimated_hours=1.1)], hours_per_day=1.3)
    assert [s[2] for s in sessions(result)] == [1.25]


# --- endpoint ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_generate_schedule_endpoint_saves_when_asked(api_client, plan, make_goal, today):
    first = make_goal("Master derivatives", estimated_hours=3, key_concepts=["power_rule", "chain_rule"])
    make_goal("Integrals", estimated_hours=2, prerequisites=[first])
    url = f"/api/v1/learning/study-plans/{plan.pk}/generate_schedule/"
    body = {"hours_per_day": 2, "preferred_times": ["evening", "night"], "include_weekends": True, "save_schedule": False}
    res = api_client.post(url, body, format="json")
    assert res.status_code == 200, res.json()
    days = res.json()
    assert days[0]["date"] == today.isoformat()
    first_session = days[0]["sessions"][0]
    assert set(first_session) >= {"goal_id", "goal_title", "duration_hours", "time_slot", "focus_areas"}
    assert first_session["focus_areas"] == ["power_rule", "chain_rule"]
    assert sum(d["total_hours"] for d in days) == 5
    plan.refresh_from_db()
    assert plan.schedule == {}
    api_client.post(url, {**body, "save_schedule": True}, format="json")
    plan.refresh_from_db()
    assert plan.schedule["days"] == days and plan.schedule_generated_at


@pytest.mark.django_db
def test_generate_schedule_rejects_bad_input_and_other_users(api_client, plan, other_user):
    from tests.conftest import client_for

    url = f"/api/v1/learning/study-plans/{plan.pk}/generate_schedule/"
    res = api_client.post(url, {"hours_per_day": 40, "preferred_times": ["midnight"]}, format="json")
    assert res.status_code == 400
    assert set(res.json()["details"]) == {"hours_per_day", "preferred_times"}
    assert client_for(other_user).post(url, {}, format="json").status_code == 404
