from __future__ import annotations

from django.conf import settings
from django.db import models

from tutorhub.core.files import PrivateUploadTo
from tutorhub.core.models import TimeStampedModel, UUIDModel


class Course(UUIDModel):
    """A course (canonical API). Students reach it through groups (school dialect) or by owning it."""

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
    """A class of students with one teacher, on one course, between two dates (school dialect)."""

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


class Schedule(TimeStampedModel):
    """A weekly slot of a group; lessons are generated from schedules between the group's dates."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="schedules")
    day_of_week = models.PositiveSmallIntegerField(help_text="0=Monday … 6=Sunday")
    start_time = models.TimeField()
    duration_minutes = models.PositiveSmallIntegerField(default=90)

    class Meta:
        ordering = ["group_id", "day_of_week", "start_time"]
        constraints = [
            models.CheckConstraint(condition=models.Q(day_of_week__lte=6), name="schedule_day_of_week_range"),
            models.CheckConstraint(condition=models.Q(duration_minutes__gte=1), name="schedule_duration_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.group} d{self.day_of_week} {self.start_time:%H:%M}"


class Lesson(TimeStampedModel):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="lessons")
    # Null for lessons added by hand, or whose schedule was removed after attendance was taken.
    schedule = models.ForeignKey(Schedule, on_delete=models.SET_NULL, null=True, blank=True, related_name="lessons")
    scheduled_date = models.DateField(db_index=True)
    start_time = models.TimeField()
    duration_minutes = models.PositiveSmallIntegerField(default=90)
    topic = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED, db_index=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["scheduled_date", "start_time"]
        constraints = [
            # Regeneration relies on this: one lesson per schedule per date, never a duplicate.
            models.UniqueConstraint(fields=["schedule", "scheduled_date"], name="lesson_unique_schedule_date"),
        ]

    def __str__(self) -> str:
        return f"{self.group} {self.scheduled_date} {self.start_time:%H:%M}"


class Attendance(TimeStampedModel):
    class Status(models.TextChoices):
        PRESENT = "present", "Present"
        ABSENT = "absent", "Absent"
        LATE = "late", "Late"
        EXCUSED = "excused", "Excused"

    ATTENDED = (Status.PRESENT, Status.LATE)

    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="attendances")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attendances")
    status = models.CharField(max_length=16, choices=Status.choices)
    notes = models.TextField(blank=True)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-lesson__scheduled_date", "student_id"]
        constraints = [models.UniqueConstraint(fields=["lesson", "student"], name="attendance_unique_lesson_student")]

    def __str__(self) -> str:
        return f"{self.student_id}@{self.lesson_id}: {self.status}"


class LessonResource(TimeStampedModel):
    class Kind(models.TextChoices):
        DOCUMENT = "document", "Document"
        AUDIO = "audio", "Audio"
        OTHER = "other", "Other"

    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="resources")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    resource_type = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    file = models.FileField(upload_to=PrivateUploadTo("lesson_resources"))
    original_filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    file_size_bytes = models.PositiveBigIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The knowledge-base document this resource was indexed as (knowledge.Document id), if any.
    knowledge_document_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.title
