"""Absurd ids in paths and filters answer 4xx, never a database overflow (500)."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.factories import UserFactory

BIG = "99999999999999999999999"  # beyond any database integer

@pytest.mark.django_db
@pytest.mark.parametrize("url", [
    f"/api/v1/lessons/{BIG}/", f"/api/v1/lessons/group/{BIG}/", f"/api/v1/gamification/leaderboard/{BIG}/",
    f"/api/v1/gamification/achievements/{BIG}/", f"/api/v1/attendance/student/{BIG}/", f"/api/v1/payments/{BIG}/",
    f"/api/v1/payments/?student={BIG}", f"/api/v1/homework/?student={BIG}", f"/api/v1/homework/lesson/{BIG}/",
    f"/api/v1/resources/lesson/{BIG}/", f"/api/v1/courses/groups/?teacher={BIG}", f"/api/v1/lessons/?group__students={BIG}",
    f"/api/v1/notifications/{BIG}/", f"/api/v1/courses/schedules/{BIG}/", f"/api/v1/attendance/?student={BIG}",
    f"/api/v1/homework/1/submission/?student={BIG}", f"/api/v1/resources/{BIG}/download/",
])
def test_absurd_ids_are_client_errors(url):
    for role in ("admin", "student"):
        r = client_for(UserFactory(role=role)).get(url)
        assert r.status_code < 500, (url, role)


@pytest.mark.django_db
def test_absurd_ids_in_bodies_are_client_errors(school):
    admin = school.client("admin")
    bodies = [
        ("/api/v1/attendance/bulk-mark/", {"lesson_id": int(BIG), "attendance_data": [{"student": 1, "status": "present"}]}),
        ("/api/v1/attendance/bulk-mark/", {"lesson_id": 1, "attendance_data": [{"student": int(BIG), "status": "present"}]}),
        ("/api/v1/payments/", {"student": int(BIG), "amount": "1", "due_date": "2026-01-01"}),
        ("/api/v1/payments/", {"student": school.student.pk, "group": int(BIG), "amount": "1", "due_date": "2026-01-01"}),
        ("/api/v1/courses/schedules/", {"group": int(BIG), "day_of_week": 0, "start_time": "10:00"}),
        ("/api/v1/lessons/", {"group": int(BIG), "scheduled_date": "2026-01-05", "start_time": "10:00"}),
        ("/api/v1/homework/", {"lesson": int(BIG), "title": "x"}),
        ("/api/v1/homework/1/review/", {"status": "approved", "student": int(BIG)}),
    ]
    for url, body in bodies:
        assert admin.post(url, body, format="json").status_code in (400, 404), url
