"""Factories shared by every test package."""

from __future__ import annotations

import datetime

import factory
from django.contrib.auth import get_user_model

from tutorhub.courses.models import Course, Group

PASSWORD = "Str0ng-Passw0rd!"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    role = "student"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Course {n}")
    subject_area = "Mathematics"


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"Group {n}")
    course = factory.SubFactory(CourseFactory)
    teacher = factory.SubFactory(UserFactory, role="teacher")
    start_date = datetime.date(2026, 1, 5)
    end_date = datetime.date(2026, 3, 27)
    max_students = 20
