from __future__ import annotations

import datetime

import pytest

from tutorhub.courses.models import Attendance, Lesson
from tutorhub.courses.services import schedule_create
from tutorhub.engagement.models import CoinTransaction, Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def lesson(school) -> Lesson:
    schedule_create(group=school.group, day_of_week=0, start_time=datetime.time(18), duration_minutes=90)
    return Lesson.objects.filter(group=school.group).order_by("scheduled_date").first()


def payload(lesson, *entries):
    return {"lesson_id": lesson.pk, "attendance_data": [{"student": s.pk, "status": st, "notes": n} for s, st, n in entries]}


def test_teacher_bulk_marks_seed_payload(school, lesson, run_on_commit):
    body = payload(lesson, (school.student, "present", ""), (school.classmate, "absent", "Sick leave"))
    resp = run_on_commit(school.client("teacher").post, "/api/v1/attendance/bulk-mark/", body, format="json")
    assert resp.status_code == 200, resp.json()
    assert resp.json()["marked"] == 2
    assert dict(Attendance.objects.values_list("student_id", "status")) == {
        school.student.pk: "present",
        school.classmate.pk: "absent",
    }
    lesson.refresh_from_db()
    assert lesson.status == "completed"
    # Attendance coins once, notifications to students, and the absent student's parent is not ours.
    assert CoinTransaction.objects.filter(user=school.student, idempotency_key=f"attendance:{lesson.pk}:{school.student.pk}:1").exists()
    assert Notification.objects.filter(user=school.classmate, kind="attendance_marked").exists()
    # Re-marking updates in place: no duplicate rows, no second award.
    body = payload(lesson, (school.student, "late", "bus"))
    assert school.client("teacher").post("/api/v1/attendance/bulk-mark/", body, format="json").status_code == 200
    assert Attendance.objects.count() == 2
    assert Attendance.objects.get(student=school.student).status == "late"
    assert CoinTransaction.objects.filter(user=school.student, reason__startswith="Attended").count() == 1


def test_attendance_coins_follow_corrections(school, lesson, settings):
    settings.COINS_PER_ATTENDANCE = 2
    teacher = school.client("teacher")

    def mark(status):
        body = payload(lesson, (school.student, status, ""))
        assert teacher.post("/api/v1/attendance/bulk-mark/", body, format="json").status_code == 200
        school.student.refresh_from_db()
        return school.student.coins

    first = mark("present")  # includes the "first lesson" achievement bonus
    assert mark("present") == first  # no double award
    assert mark("absent") == first - 2  # corrected: taken back
    assert mark("late") == first  # attended again
    assert mark("late") == first
    amounts = list(
        CoinTransaction.objects.filter(idempotency_key__startswith=f"attendance:{lesson.pk}:").order_by("id").values_list("amount", flat=True)
    )
    assert amounts == [2, -2, 2]


def test_parent_is_told_about_absence(school, lesson):
    body = payload(lesson, (school.student, "absent", ""))
    assert school.client("admin").post("/api/v1/attendance/bulk-mark/", body, format="json").status_code == 200
    assert Notification.objects.filter(user=school.parent, kind="attendance_marked", data__student_id=school.student.pk).exists()


@pytest.mark.parametrize(
    "role,expected", [("admin", 200), ("teacher", 200), ("other_teacher", 404), ("student", 403), ("other_student", 404), ("parent", 403)]
)
def test_bulk_mark_permission_matrix(school, lesson, role, expected):
    body = payload(lesson, (school.student, "present", ""))
    assert school.client(role).post("/api/v1/attendance/bulk-mark/", body, format="json").status_code == expected


def test_bulk_mark_with_foreign_student_writes_nothing(school, lesson):
    body = payload(lesson, (school.student, "present", ""), (school.other_student, "present", ""))
    resp = school.client("teacher").post("/api/v1/attendance/bulk-mark/", body, format="json")
    assert resp.status_code == 400
    assert str(school.other_student.pk) in str(resp.json()["details"])
    assert not Attendance.objects.exists()
    lesson.refresh_from_db()
    assert lesson.status == "scheduled"


@pytest.mark.parametrize(
    "bad",
    [
        {"attendance_data": []},
        {"attendance_data": [{"student": 1, "status": "asleep"}]},
        {"lesson_id": "x"},
        {"attendance_data": "nope"},
    ],
)
def test_bulk_mark_bad_input(school, lesson, bad):
    body = {**payload(lesson, (school.student, "present", "")), **bad}
    assert school.client("teacher").post("/api/v1/attendance/bulk-mark/", body, format="json").status_code == 400


def test_bulk_mark_duplicate_student_and_unknown_lesson(school, lesson):
    body = payload(lesson, (school.student, "present", ""), (school.student, "absent", ""))
    assert school.client("teacher").post("/api/v1/attendance/bulk-mark/", body, format="json").status_code == 400
    body = {"lesson_id": 999999, "attendance_data": [{"student": school.student.pk, "status": "present"}]}
    assert school.client("teacher").post("/api/v1/attendance/bulk-mark/", body, format="json").status_code == 404


@pytest.mark.parametrize(
    "role,visible", [("admin", True), ("teacher", True), ("other_teacher", False), ("student", True), ("other_student", False), ("parent", True)]
)
def test_student_history_matrix(school, lesson, role, visible):
    school.client("teacher").post(
        "/api/v1/attendance/bulk-mark/", payload(lesson, (school.student, "present", "")), format="json"
    )
    resp = school.client(role).get(f"/api/v1/attendance/student/{school.student.pk}/")
    if not visible:
        assert resp.status_code == 404
        assert school.client(role).get(f"/api/v1/attendance/?student={school.student.pk}").json()["count"] == 0
        return
    body = resp.json()
    assert resp.status_code == 200
    assert body["summary"]["present"] == 1 and body["attendance_rate"] == 1.0 and body["count"] == 1


def test_cancelled_lesson_cannot_be_marked(school, lesson):
    lesson.status = "cancelled"
    lesson.save()
    body = payload(lesson, (school.student, "present", ""))
    assert school.client("teacher").post("/api/v1/attendance/bulk-mark/", body, format="json").status_code == 400
