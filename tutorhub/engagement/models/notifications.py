from __future__ import annotations

from django.conf import settings
from django.db import models

from tutorhub.core.models import TimeStampedModel
from tutorhub.core.retry import RetryState


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


class NotificationPreference(TimeStampedModel):
    """Which channels deliver a user's notifications and which kinds they want (the school dialect's fields)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference")
    email_enabled = models.BooleanField(default=True)
    telegram_enabled = models.BooleanField(default=False)
    sms_enabled = models.BooleanField(default=False)
    telegram_chat_id = models.CharField(max_length=64, blank=True)
    phone_number = models.CharField(max_length=32, blank=True)
    payment_notifications = models.BooleanField(default=True)
    homework_notifications = models.BooleanField(default=True)
    lesson_notifications = models.BooleanField(default=True)
    attendance_notifications = models.BooleanField(default=True)
    gamification_notifications = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


class NotificationDelivery(TimeStampedModel, RetryState):
    """One attempt chain to deliver a notification on one channel (email, telegram, sms); retried
    by tutorhub.core.retry like every outbound delivery."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "notification deliveries"
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["notification", "channel"], name="delivery_unique_channel")]

    def __str__(self) -> str:
        return f"{self.notification_id} via {self.channel}: {self.status}"
