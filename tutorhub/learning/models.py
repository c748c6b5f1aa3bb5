from __future__ import annotations

from django.conf import settings
from django.db import models

from tutorhub.core.files import PrivateUploadTo
from tutorhub.core.models import TimeStampedModel, UUIDModel


class LearnerEvent(models.Model):
    """One piece of evidence about what a student knows of a topic.

    Every learning activity writes one (flashcard review, quiz answer, homework score, study
    time); the learner model reads only these rows, so it never depends on how each activity
    stores its own data.
    """

    class Kind(models.TextChoices):
        FLASHCARD_REVIEW = "flashcard_review", "Flashcard review"
        QUIZ_ANSWER = "quiz_answer", "Quiz answer"
        HOMEWORK = "homework", "Homework"
        STUDY = "study", "Study time"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="learner_events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    subject = models.CharField(max_length=120, blank=True)
    topic = models.CharField(max_length=200, db_index=True)
    score = models.FloatField(null=True, blank=True, help_text="0..1 where the activity is graded")
    duration_seconds = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=100, blank=True, help_text="model:id of the activity row")
    occurred_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["user", "topic", "occurred_at"])]
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.topic} {self.score}"


class StudyPlan(UUIDModel):
    class Priority(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        ARCHIVED = "archived", "Archived"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_plans")
    course = models.ForeignKey(
        "courses.Course", on_delete=models.SET_NULL, null=True, blank=True, related_name="study_plans"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    start_date = models.DateField()
    end_date = models.DateField()
    study_hours_per_week = models.FloatField(default=5)
    priority_level = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    # The last generated schedule the student chose to keep ({"days": [...], "unscheduled": [...]}).
    schedule = models.JSONField(default=dict, blank=True)
    schedule_generated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end_date__gte=models.F("start_date")), name="learning_plan_dates")
        ]

    def __str__(self) -> str:
        return self.title


class LearningGoal(UUIDModel):
    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    study_plan = models.ForeignKey(StudyPlan, on_delete=models.CASCADE, related_name="goals")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    target_date = models.DateField(null=True, blank=True)
    estimated_hours = models.FloatField(default=1)
    priority = models.PositiveSmallIntegerField(default=3, help_text="1 is the most important")
    key_concepts = models.JSONField(default=list, blank=True)
    prerequisites = models.ManyToManyField("self", symmetrical=False, related_name="dependents", blank=True)
    progress_percentage = models.FloatField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NOT_STARTED, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["priority", "target_date", "created_at"]

    def __str__(self) -> str:
        return self.title


class GoalProgressEntry(models.Model):
    """History of a goal's progress, so trends are computed from what happened, not the latest value."""

    goal = models.ForeignKey(LearningGoal, on_delete=models.CASCADE, related_name="progress_entries")
    progress_percentage = models.FloatField()
    notes = models.TextField(blank=True)
    session = models.ForeignKey("StudySession", on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "goal progress entries"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.goal_id} {self.progress_percentage}%"


class StudySession(UUIDModel):
    class SessionType(models.TextChoices):
        FOCUSED_STUDY = "focused_study", "Focused study"
        REVIEW = "review", "Review"
        PRACTICE = "practice", "Practice"
        READING = "reading", "Reading"
        EXAM_PREP = "exam_prep", "Exam preparation"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_sessions")
    study_plan = models.ForeignKey(
        StudyPlan, on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions"
    )
    session_type = models.CharField(max_length=16, choices=SessionType.choices, default=SessionType.FOCUSED_STUDY)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    planned_duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    focus_areas = models.JSONField(default=list, blank=True)
    learning_objectives = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_minutes = models.FloatField(default=0)
    productivity_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)
    topics_covered = models.JSONField(default=list, blank=True)
    goals_worked_on = models.ManyToManyField(LearningGoal, related_name="sessions", blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["user", "status", "started_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.session_type} {self.started_at:%Y-%m-%d %H:%M}"


class WeeklyReport(models.Model):
    """A parent's weekly summary of one child. Stored so the same facts are written once."""

    parent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="weekly_reports")
    child = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    week_start = models.DateField()
    week_end = models.DateField()
    facts = models.JSONField(default=dict)
    summary = models.TextField()
    ai_model_used = models.CharField(max_length=100)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-week_start"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "child", "week_start"], name="learning_weekly_report_unique")
        ]

    def __str__(self) -> str:
        return f"{self.child_id} {self.week_start}"


class Feedback(TimeStampedModel):
    class FeedbackType(models.TextChoices):
        BUG_REPORT = "bug_report", "Bug report"
        FEATURE_REQUEST = "feature_request", "Feature request"
        CONTENT_ISSUE = "content_issue", "Content issue"
        GENERAL = "general", "General"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        NEW = "new", "New"
        REVIEWED = "reviewed", "Reviewed"
        RESOLVED = "resolved", "Resolved"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback")
    feedback_type = models.CharField(max_length=20, choices=FeedbackType.choices, default=FeedbackType.GENERAL)
    subject = models.CharField(max_length=200)
    message = models.TextField()
    screenshot = models.ImageField(upload_to=PrivateUploadTo("feedback"), null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW, db_index=True)
    admin_notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.feedback_type}: {self.subject}"
