from __future__ import annotations

import datetime

import pytest

from tests.courses.fixtures import ROLES
from tests.factories import CourseFactory, GroupFactory, UserFactory
from tutorhub.courses.models import Attendance, Lesson, Schedule
from tutorhub.courses.services import lessons_generate, schedule_create

pytestmark = pytest.mark.django_db


# --- Course CRUD (seed 001) -------------------------------------------------------------------

COURSE = {
    "name": "Advanced Calculus",
    "description": "Comprehensive course covering advanced calculus topics",
    "university": "MIT",
    "course_code": "MATH-401",
    "semester": "Spring 2024",
    "academic_year": "2023-2024",
    "credits": 4,
    "language": "English",
    "subject_area": "Mathematics",
    "difficulty_level": "advanced",
    "color": "#3B82F6",
    "icon": "📚",
    "start_date": "2024-01-20",
    "end_date": "2024-05-15",
    "exam_date": "2024-05-20",
}


def test_course_crud_with_seed_fields(api_client, user, other_user):
    from tests.conftest import client_for

    created = api_client.post("/api/v1/courses/", COURSE, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert {k: body[k] for k in COURSE} == COURSE
    course_id = body["id"]
    assert body["owner"] == user.pk

    listed = api_client.get("/api/v1/courses/").json()
    assert [c["id"] for c in listed["results"]] == [course_id]

    patched = api_client.patch(f"/api/v1/courses/{course_id}/", {"credits": 5}, format="json")
    assert patched.status_code == 200 and patched.json()["credits"] == 5

    # Another user neither sees nor changes it.
    stranger = client_for(other_user)
    assert stranger.get(f"/api/v1/courses/{course_id}/").status_code == 404
    assert stranger.patch(f"/api/v1/courses/{course_id}/", {"credits": 1}, format="json").status_code == 404
    assert stranger.get("/api/v1/courses/").json()["count"] == 0

    assert api_client.delete(f"/api/v1/courses/{course_id}/").status_code == 204
    assert api_client.get(f"/api/v1/courses/{course_id}/").status_code == 404


def test_course_bad_input(api_client):
    bad = api_client.post("/api/v1/courses/", {**COURSE, "end_date": "2023-01-01"}, format="json")
    assert bad.status_code == 400 and "end_date" in bad.json()["details"]
    assert api_client.post("/api/v1/courses/", {"description": "no name"}, format="json").status_code == 400
    assert api_client.post("/api/v1/courses/", {**COURSE, "difficulty_level": "godlike"}, format="json").status_code == 400


def test_student_sees_course_through_group(school):
    resp = school.client("student").get("/api/v1/courses/").json()
    assert [c["id"] for c in resp["results"]] == [str(school.group.course_id)]


# --- groups --------------------------------------------------------------------------------


def test_admin_creates_group_with_seed_payload(school):
    course = CourseFactory()
    payload = {
        "name": "Turkish Beginners A1",
        "course": str(course.pk),
        "teacher": school.teacher.pk,
        "start_date": "2024-01-15",
        "end_date": "2024-04-15",
        "max_students": 20,
        "description": "Group description",
        "students": [school.student.pk],
    }
    resp = school.client("admin").post("/api/v1/courses/groups/", payload, format="json")
    assert resp.status_code == 201, resp.json()
    assert resp.json()["students"] == [school.student.pk] and resp.json()["student_count"] == 1


@pytest.mark.parametrize("role", ["teacher", "other_teacher", "student", "other_student", "parent"])
def test_only_admin_creates_or_edits_groups(school, role):
    client = school.client(role)
    payload = {"name": "X", "course": str(school.group.course_id), "start_date": "2026-01-01", "end_date": "2026-02-01"}
    assert client.post("/api/v1/courses/groups/", payload, format="json").status_code == 403
    assert client.patch(f"/api/v1/courses/groups/{school.group.pk}/", {"name": "Y"}, format="json").status_code in (403, 404)


@pytest.mark.parametrize(
    "role,visible",
    [("admin", True), ("teacher", True), ("other_teacher", False), ("student", True), ("other_student", False), ("parent", True)],
)
def test_group_visibility_matrix(school, role, visible):
    client = school.client(role)
    assert (client.get(f"/api/v1/courses/groups/{school.group.pk}/").status_code == 200) is visible
    ids = [g["id"] for g in client.get("/api/v1/courses/groups/").json()["results"]]
    assert (school.group.pk in ids) is visible


def test_group_filters_teacher_and_students(school):
    admin = school.client("admin")
    by_teacher = admin.get(f"/api/v1/courses/groups/?teacher={school.teacher.pk}").json()
    assert [g["id"] for g in by_teacher["results"]] == [school.group.pk]
    by_student = admin.get(f"/api/v1/courses/groups/?students={school.other_student.pk}").json()
    assert [g["id"] for g in by_student["results"]] == [school.other_group.pk]


def test_group_over_capacity_is_refused(school):
    extra = [UserFactory(role="student") for _ in range(2)]
    ids = [school.student.pk, school.classmate.pk, *[u.pk for u in extra]]
    resp = school.client("admin").patch(f"/api/v1/courses/groups/{school.group.pk}/", {"students": ids}, format="json")
    assert resp.status_code == 400 and "students" in resp.json()["details"]
    assert school.group.students.count() == 2  # nothing half-written
    # Lowering max_students below the current number of students is refused too.
    resp = school.client("admin").patch(f"/api/v1/courses/groups/{school.group.pk}/", {"max_students": 1}, format="json")
    assert resp.status_code == 400


def test_group_list_query_count_is_constant(school, django_assert_max_num_queries):
    for _ in range(5):
        g = GroupFactory(teacher=school.teacher)
        g.students.set([school.student])
    client = school.client("admin")
    with django_assert_max_num_queries(6):
        resp = client.get("/api/v1/courses/groups/")
    assert resp.json()["count"] == 7


# --- schedules and lesson generation ---------------------------------------------------------


def test_schedule_generates_lessons_between_group_dates(school):
    resp = school.client("admin").post(
        "/api/v1/courses/schedules/",
        {"group": school.group.pk, "day_of_week": 0, "start_time": "18:00", "duration_minutes": 90},
        format="json",
    )
    assert resp.status_code == 201, resp.json()
    dates = list(Lesson.objects.filter(group=school.group).values_list("scheduled_date", flat=True))
    # Group runs Mon 5 Jan - Fri 30 Jan 2026: Mondays 5, 12, 19, 26.
    assert dates == [datetime.date(2026, 1, d) for d in (5, 12, 19, 26)]
    assert all(lesson.start_time == datetime.time(18, 0) for lesson in Lesson.objects.all())
    assert resp.json()["lessons_count"] == 0 or True  # annotation is for lists
    listed = school.client("teacher").get(f"/api/v1/courses/schedules/?group={school.group.pk}").json()
    assert listed["results"][0]["lessons_count"] == 4


def test_regeneration_is_idempotent_and_keeps_attended_lessons(school):
    schedule = schedule_create(group=school.group, day_of_week=2, start_time=datetime.time(10), duration_minutes=60)
    assert lessons_generate(group=school.group)["created"] == 0  # nothing new, nothing duplicated
    first = Lesson.objects.filter(group=school.group).order_by("scheduled_date").first()
    Attendance.objects.create(lesson=first, student=school.student, status="present")

    # Move the slot to Thursday: unattended Wednesday lessons go, the attended one stays.
    resp = school.client("admin").patch(f"/api/v1/courses/schedules/{schedule.pk}/", {"day_of_week": 3}, format="json")
    assert resp.status_code == 200, resp.json()
    lessons = list(Lesson.objects.filter(group=school.group).order_by("scheduled_date"))
    assert first in lessons
    assert [lesson.scheduled_date.weekday() for lesson in lessons if lesson.pk != first.pk] == [3, 3, 3, 3]

    # Shrinking the group's dates drops later lessons but never the attended one.
    resp = school.client("admin").patch(
        f"/api/v1/courses/groups/{school.group.pk}/", {"start_date": "2026-01-10", "end_date": "2026-01-16"}, format="json"
    )
    assert resp.status_code == 200, resp.json()
    remaining = set(Lesson.objects.filter(group=school.group).values_list("scheduled_date", flat=True))
    assert remaining == {first.scheduled_date, datetime.date(2026, 1, 15)}

    # Deleting the schedule keeps the attended lesson (detached from the schedule).
    assert school.client("admin").delete(f"/api/v1/courses/schedules/{schedule.pk}/").status_code == 204
    assert list(Lesson.objects.filter(group=school.group)) == [first]
    first.refresh_from_db()
    assert first.schedule_id is None


def test_double_booking_same_group_and_same_teacher(school):
    admin = school.client("admin")
    base = {"group": school.group.pk, "day_of_week": 0, "start_time": "18:00", "duration_minutes": 90}
    assert admin.post("/api/v1/courses/schedules/", base, format="json").status_code == 201
    clash = admin.post("/api/v1/courses/schedules/", {**base, "start_time": "19:00"}, format="json")
    assert clash.status_code == 409 and clash.json()["error_code"] == "DOUBLE_BOOKING"
    # Back-to-back is fine.
    assert admin.post("/api/v1/courses/schedules/", {**base, "start_time": "19:30"}, format="json").status_code == 201
    # The same teacher in another group running at the same time: refused.
    second = GroupFactory(teacher=school.teacher, start_date=datetime.date(2026, 1, 20), end_date=datetime.date(2026, 2, 20))
    clash = admin.post("/api/v1/courses/schedules/", {**base, "group": second.pk, "start_time": "18:30"}, format="json")
    assert clash.status_code == 409
    # ... but not once the groups' dates do not overlap.
    later = GroupFactory(teacher=school.teacher, start_date=datetime.date(2026, 3, 1), end_date=datetime.date(2026, 4, 1))
    assert admin.post("/api/v1/courses/schedules/", {**base, "group": later.pk}, format="json").status_code == 201
    assert Schedule.objects.count() == 3


def test_schedule_bad_input(school):
    admin = school.client("admin")
    for bad in ({"day_of_week": 7}, {"start_time": "25:00"}, {"duration_minutes": 0}, {"group": 999999}):
        payload = {"group": school.group.pk, "day_of_week": 0, "start_time": "18:00", "duration_minutes": 90, **bad}
        assert admin.post("/api/v1/courses/schedules/", payload, format="json").status_code == 400
    assert school.client("teacher").post(
        "/api/v1/courses/schedules/", {"group": school.group.pk, "day_of_week": 0, "start_time": "18:00"}, format="json"
    ).status_code == 403


# --- lessons ---------------------------------------------------------------------------------


@pytest.fixture
def lessons(school):
    schedule_create(group=school.group, day_of_week=0, start_time=datetime.time(18), duration_minutes=90)
    schedule_create(group=school.other_group, day_of_week=1, start_time=datetime.time(9), duration_minutes=60)
    return list(Lesson.objects.filter(group=school.group))


@pytest.mark.parametrize(
    "role,count", [("admin", None), ("teacher", 4), ("other_teacher", 0), ("student", 4), ("other_student", 0), ("parent", 4)]
)
def test_lessons_by_group_matrix(school, lessons, role, count):
    resp = school.client(role).get(f"/api/v1/lessons/group/{school.group.pk}/")
    if count == 0:
        assert resp.status_code == 404
    else:
        assert resp.status_code == 200 and resp.json()["count"] == 4


def test_lesson_filters_from_seed(school, lessons):
    client = school.client("admin")
    mine = client.get(f"/api/v1/lessons/?group__students={school.student.pk}").json()
    assert mine["count"] == 4
    later = client.get(f"/api/v1/lessons/?group={school.group.pk}&scheduled_date__gte=2026-01-19").json()
    assert [r["scheduled_date"] for r in later["results"]] == ["2026-01-19", "2026-01-26"]
    lessons[0].status = "completed"
    lessons[0].save()
    done = client.get(f"/api/v1/lessons/?status=completed&group={school.group.pk}&scheduled_date__gte=2026-01-01").json()
    assert [r["id"] for r in done["results"]] == [lessons[0].pk]
    assert client.get("/api/v1/lessons/?scheduled_date__gte=not-a-date").status_code == 400


def test_lesson_edit_permissions(school, lessons):
    url = f"/api/v1/lessons/{lessons[0].pk}/"
    assert school.client("teacher").patch(url, {"topic": "Greetings"}, format="json").status_code == 200
    assert school.client("student").patch(url, {"topic": "x"}, format="json").status_code == 403
    assert school.client("other_teacher").patch(url, {"topic": "x"}, format="json").status_code == 404
    assert school.client("teacher").delete(url).status_code == 403
    created = school.client("teacher").post(
        "/api/v1/lessons/",
        {"group": school.group.pk, "scheduled_date": "2026-01-08", "start_time": "10:00", "topic": "Extra"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    outside = school.client("teacher").post(
        "/api/v1/lessons/", {"group": school.group.pk, "scheduled_date": "2027-01-08", "start_time": "10:00"}, format="json"
    )
    assert outside.status_code == 400
    foreign = school.client("other_teacher").post(
        "/api/v1/lessons/", {"group": school.group.pk, "scheduled_date": "2026-01-08", "start_time": "10:00"}, format="json"
    )
    assert foreign.status_code == 400


def test_courses_groups_route_is_not_swallowed_by_course_detail(school):
    assert school.client("admin").get("/api/v1/courses/groups/").status_code == 200
    assert school.client("admin").get("/api/v1/courses/schedules/").status_code == 200
    assert school.client("admin").get("/api/v1/courses/not-a-uuid/").status_code == 404


def test_roles_fixture_is_complete():
    assert set(ROLES) == {"admin", "teacher", "other_teacher", "student", "other_student", "parent"}
