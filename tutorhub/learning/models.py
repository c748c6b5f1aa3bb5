from __future__ import annotations

from django.conf import settings
from django.db import models


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
