from __future__ import annotations

from django.conf import settings
from django.db import models

from tutorhub.core.models import TimeStampedModel


class Notification(TimeStampedModel):
    """An in-app notification; delivery to email/Telegram/SMS follows the user's preferences."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=50, db_index=True, help_text="payment_due, homework_reviewed, weekly_report, ...")
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    is_read = models.BooleanField(default=False, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.title}"
