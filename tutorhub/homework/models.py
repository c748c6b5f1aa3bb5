"""Homework: what a teacher assigns for a lesson, and every piece of work a student hands in —
written, uploaded as a file, or recorded as audio — whether for an assignment or on their own.

One submission model serves both API dialects: the school dialect addresses submissions by
their integer id, the chatbot dialect by `uuid`; both ids survive from the two tables this
model replaced (migration homework 0002)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from tutorhub.core.files import PrivateUploadTo
from tutorhub.core.models import TimeStampedModel

# Coins are the students' currency; one homework must not be able to mint a fortune.
HOMEWORK_MAX_COINS_REWARD = 1000


class Homework(TimeStampedModel):
    """Homework a teacher assigns for a lesson; every student of the group may submit once (resubmit replaces)."""

    lesson = models.ForeignKey("courses.Lesson", on_delete=models.CASCADE, related_name="homeworks")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # For speaking tasks: the text the student should say; submissions are scored against it.
    expected_answer = models.TextField(blank=True)
    language = models.CharField(max_length=16, blank=True, help_text="Transcription language hint, e.g. en, tr")
    due_date = models.DateTimeField(null=True, blank=True)
    coins_reward = models.PositiveIntegerField(default=10)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    MAX_COINS_REWARD = HOMEWORK_MAX_COINS_REWARD

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(coins_reward__lte=HOMEWORK_MAX_COINS_REWARD), name="homework_coins_reward_bounded"
            )
        ]

    def __str__(self) -> str:
        return self.title


class HomeworkSubmission(TimeStampedModel):
    """One piece of handed-in work. `kind` says what was handed in and so how it is checked:
    written work (text, or a file whose text is extracted) gets AI feedback against the student's
    material; a recording is transcribed and compared with the assignment's expected answer.

    Status: SUBMITTED (queued) → PROCESSING → CHECKED (an assignment: waits for the teacher, who
    APPROVES or REJECTS it) or COMPLETED (self-submitted work: nobody reviews it), or FAILED (the
    reason in `processing_error`; the check can be asked for again)."""

    class Kind(models.TextChoices):
        TEXT = "text", "Written"
        FILE = "file", "Uploaded file"
        AUDIO = "audio", "Recorded audio"

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        PROCESSING = "processing", "Processing"
        CHECKED = "checked", "Checked"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Processing failed"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    # The chatbot dialect's public id (its submissions were UUID-keyed before the merge).
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Null for work a student hands in on their own (no assignment, no teacher review).
    homework = models.ForeignKey(Homework, on_delete=models.CASCADE, null=True, blank=True, related_name="submissions")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="homework_submissions")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TEXT)
    # Self-submitted work names its own subject; an assignment's come from the homework and lesson.
    title = models.CharField(max_length=200, blank=True)
    subject = models.CharField(max_length=120, blank=True)
    topic = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    file = models.FileField(upload_to=PrivateUploadTo("homework"), blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    file_size_bytes = models.PositiveIntegerField(default=0)
    # A file's text is extracted by the worker and appended to `text`; set once that is done
    # so a retried check does not extract (and append) it again.
    file_extracted = models.BooleanField(default=False)
    audio_format = models.CharField(max_length=8, blank=True)
    audio_duration_seconds = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTED, db_index=True)
    progress_percentage = models.PositiveSmallIntegerField(default=0)
    transcription = models.TextField(blank=True)
    similarity_score = models.FloatField(null=True, blank=True, help_text="0-1, a recording against the expected answer")
    score = models.FloatField(null=True, blank=True, help_text="0-100, the AI's mark of written work")
    ai_feedback = models.TextField(blank=True)
    feedback_details = models.JSONField(default=dict, blank=True)
    ai_model_used = models.CharField(max_length=100, blank=True)
    processing_error = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    teacher_feedback = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    coins_awarded = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["homework", "student"], name="homework_submission_once")]

    def __str__(self) -> str:
        return self.title or f"{self.homework_id}/{self.student_id}: {self.status}"
