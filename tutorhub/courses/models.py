from __future__ import annotations

from django.conf import settings
from django.db import models

from tutorhub.core.models import TimeStampedModel, UUIDModel


class Course(UUIDModel):
    """A course (seed 001). Students reach it through groups (seed 002) or by owning it."""

    class Difficulty(models.TextChoices):
        BEGINNER = "beginner", "Beginner"
        INTERMEDIATE = "intermediate", "Intermediate"
        ADVANCED = "advanced", "Advanced"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_courses")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    university = models.CharField(max_length=200, blank=True)
    course_code = models.CharField(max_length=50, blank=True)
    semester = models.CharField(max_length=50, blank=True)
    academic_year = models.CharField(max_length=20, blank=True)
    credits = models.PositiveSmallIntegerField(null=True, blank=True)
    language = models.CharField(max_length=50, blank=True)
    subject_area = models.CharField(max_length=100, blank=True)
    difficulty_level = models.CharField(max_length=16, choices=Difficulty.choices, blank=True)
    color = models.CharField(max_length=9, blank=True, default="#3B82F6")
    icon = models.CharField(max_length=16, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    exam_date = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Group(TimeStampedModel):
    """A class of students with one teacher, on one course, between two dates (seed 002)."""

    name = models.CharField(max_length=200)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="groups")
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="teaching_groups", null=True, blank=True
    )
    students = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="study_groups", blank=True)
    start_date = models.DateField()
    end_date = models.DateField()
    max_students = models.PositiveIntegerField(default=20)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end_date__gte=models.F("start_date")), name="group_dates_ordered"),
        ]

    def __str__(self) -> str:
        return self.name
