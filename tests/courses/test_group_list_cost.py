"""The groups list reads its members as ids (a subquery of each group's row on the membership
table) and only the course's and teacher's columns it shows (issue 17), and answers exactly what
the serializer makes of whole rows: same groups, same fields, students as ascending ids, on the
plain list and on its filtered, searched and ordered paths."""

from __future__ import annotations

import json
from datetime import date

import pytest
from rest_framework.renderers import JSONRenderer

from benchmarks.api_data import seed
from tests.conftest import client_for
from tests.core.test_query_counts import capture
from tutorhub.courses.models import Group
from tutorhub.courses.serializers import GroupSerializer


@pytest.fixture
def data():
    return seed(documents=1, paragraphs=4, chunks_per_document=2, cards=1, quizzes=1, sessions=1, pairs=1,
                notifications=1, groups=3, peers=4, prefix="grp")


def whole_rows(user) -> list[dict]:
    """The serializer over plain, fully loaded groups (no attached ids), students sorted."""
    groups = Group.objects.filter(students=user).order_by("name")
    rows = json.loads(JSONRenderer().render(GroupSerializer(groups, many=True).data))
    for row in rows:
        row["students"].sort()
    return rows


@pytest.mark.django_db
def test_list_equals_the_serializer_over_whole_rows(data):
    user = data["user"]
    response = client_for(user).get("/api/v1/courses/groups/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert results == whole_rows(user)
    assert [row["student_count"] for row in results] == [5, 5, 5]  # the student and 4 peers
    assert results[0]["teacher_name"] == "" and results[0]["course_name"] == "Biology 0"


@pytest.mark.django_db
def test_detail_equals_the_serializer_over_whole_rows(data):
    user = data["user"]
    group = Group.objects.filter(students=user).order_by("name").first()
    response = client_for(user).get(f"/api/v1/courses/groups/{group.pk}/")
    assert response.status_code == 200
    assert response.json() == whole_rows(user)[0]


@pytest.mark.django_db
def test_page_query_reads_no_teacher_or_course_columns_it_does_not_show(data):
    statements = capture(client_for(data["user"]), "/api/v1/courses/groups/")
    page = [sql for sql in statements if 'FROM "courses_group"' in sql and "COUNT(" not in sql]
    assert len(page) == 1, statements
    assert '"password"' not in page[0] and '"courses_course"."description"' not in page[0]
    # the members come from the membership table alone: no user rows built for them
    members = [sql for sql in statements if "courses_group_students" in sql and 'FROM "accounts_user"' in sql]
    assert members == []


@pytest.mark.django_db
def test_student_ids_come_with_the_page(data):
    statements = capture(client_for(data["user"]), "/api/v1/courses/groups/")
    assert not [sql for sql in statements if sql.startswith('SELECT "courses_group_students"')], statements
    assert len(statements) == 2, statements  # user, page (not full: no COUNT; the members were a query of their own)


@pytest.mark.django_db
def test_a_group_with_no_students_and_the_filtered_paths_equal_the_serializer(data):
    user = data["user"]
    teacher = Group.objects.filter(students=user).first().teacher
    empty = Group.objects.create(name="Group Empty", course=Group.objects.first().course, teacher=teacher,
                                 start_date=date(2026, 1, 5), end_date=date(2026, 3, 27))
    client = client_for(teacher)
    everything = Group.objects.filter(teacher=teacher).order_by("name")
    expected = json.loads(JSONRenderer().render(GroupSerializer(everything, many=True).data))
    for row in expected:
        row["students"].sort()
    for url in ("/api/v1/courses/groups/", "/api/v1/courses/groups/?search=Group",
                "/api/v1/courses/groups/?ordering=name", f"/api/v1/courses/groups/?teacher={teacher.pk}"):
        response = client.get(url)
        assert response.status_code == 200 and response.json()["results"] == expected, url
    row = client.get(f"/api/v1/courses/groups/{empty.pk}/").json()
    assert row["students"] == [] and row["student_count"] == 0
    assert client.get(f"/api/v1/courses/groups/?students={user.pk}").json()["results"] == [r for r in expected if r["id"] != empty.pk]


@pytest.mark.django_db
def test_an_empty_page(user):
    response = client_for(user).get("/api/v1/courses/groups/")
    assert response.status_code == 200 and response.json() == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.django_db
def test_an_update_answers_with_the_new_students_not_the_ids_read_with_the_group(data, admin_user):
    group = Group.objects.filter(students=data["user"]).order_by("name").first()
    keep = sorted(group.students.values_list("pk", flat=True))[:2]
    response = client_for(admin_user).patch(f"/api/v1/courses/groups/{group.pk}/", {"students": keep}, format="json")
    assert response.status_code == 200
    assert response.json()["students"] == keep and response.json()["student_count"] == 2
    assert client_for(admin_user).get(f"/api/v1/courses/groups/{group.pk}/").json()["students"] == keep
