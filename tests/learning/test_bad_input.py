"""Garbage in, clear 4xx out (never a 500) on every learning and billing endpoint."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.django_db
GARBAGE = [[], "x", 7, None, {"study_plan": {"a": 1}}, {"progress_updates": [1, "x"]}, {"key_concepts": "abc"},
           {"preferred_times": "evening"}, {"hours_per_day": "lots"}, {"goals_worked_on": ["not-a-uuid"]},
           {"prerequisites": [str(uuid.uuid4())]}, {"plan_id": ["x"]}, {"screenshot": "abc"}]


def test_posts_with_garbage_bodies(api_client, plan, make_goal):
    goal = make_goal("g")
    session = api_client.post("/api/v1/learning/study-sessions/", {}, format="json").json()["id"]
    urls = [
        "/api/v1/learning/study-plans/", f"/api/v1/learning/study-plans/{plan.pk}/generate_schedule/",
        "/api/v1/learning/goals/", f"/api/v1/learning/goals/{goal.pk}/update_progress/",
        "/api/v1/learning/study-sessions/", f"/api/v1/learning/study-sessions/{session}/complete/",
        "/api/v1/accounts/feedback/", "/api/v1/billing/subscription/upgrade/",
    ]
    for url in urls:
        for body in GARBAGE:
            res = api_client.post(url, body, format="json")
            assert res.status_code < 500, (url, body, res.status_code)
            assert res.status_code in (200, 201, 400, 409), (url, body, res.status_code)


def test_gets_with_garbage_params(api_client):
    for url, params in [
        ("/api/v1/learning/study-sessions/stats/", {"start_date": "2026-13-45", "end_date": "x"}),
        ("/api/v1/learning/analytics/overview/", {"days": "-5"}),
        ("/api/v1/learning/analytics/performance_trends/", {"weeks": "1e9"}),
        ("/api/v1/learning/goals/", {"study_plan": "nope", "status": "weird"}),
        ("/api/reports/weekly/", {"week_end": "yesterday"}),
        (f"/api/v1/learning/goals/{uuid.uuid4()}/resources/", {}),
    ]:
        res = api_client.get(url, params)
        assert 400 <= res.status_code < 500, (url, res.status_code)
