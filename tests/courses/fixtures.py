"""A small school: one group with its teacher and students, plus outsiders for the permission matrix."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest

from tests.conftest import client_for
from tests.factories import GroupFactory, UserFactory
from tutorhub.accounts.models import ParentChildLink
from tutorhub.courses.models import Group


@dataclass
class School:
    admin: object
    teacher: object
    other_teacher: object
    student: object
    classmate: object
    other_student: object
    parent: object
    group: Group
    other_group: Group

    def client(self, role: str):
        return client_for(getattr(self, role))


ROLES = ["admin", "teacher", "other_teacher", "student", "other_student", "parent"]


@pytest.fixture
def school(db) -> School:
    admin = UserFactory(role="admin", is_staff=True)
    teacher = UserFactory(role="teacher")
    other_teacher = UserFactory(role="teacher")
    student = UserFactory(role="student", first_name="Ali")
    classmate = UserFactory(role="student", first_name="Vali")
    other_student = UserFactory(role="student")
    parent = UserFactory(role="parent")
    ParentChildLink.objects.create(parent=parent, child=student)
    group = GroupFactory(
        teacher=teacher, start_date=datetime.date(2026, 1, 5), end_date=datetime.date(2026, 1, 30), max_students=3
    )
    group.students.set([student, classmate])
    other_group = GroupFactory(teacher=other_teacher)
    other_group.students.set([other_student])
    return School(admin, teacher, other_teacher, student, classmate, other_student, parent, group, other_group)


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Tests run inside a transaction that never commits; this runs on_commit work (tasks, pushes) at once."""

    def runner(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return runner
