from __future__ import annotations

from django.conf import settings
from django.db import models


class UsageRecord(models.Model):
    """One metered event: an AI call's tokens, a processed document, stored bytes.

    Billing's usage endpoint and quota checks read sums of these rows; nothing else counts usage.
    """

    class Kind(models.TextChoices):
        AI_TOKENS = "ai_tokens", "AI tokens"
        DOCUMENTS = "documents", "Documents processed"
        STORAGE_BYTES = "storage_bytes", "Storage bytes"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_records")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount = models.BigIntegerField()
    feature = models.CharField(max_length=50, blank=True, help_text="chat, ingestion, generation, ...")
    model = models.CharField(max_length=100, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # False for work that cost nothing (offline AI backends): shown in usage, never held
    # against a plan's limit.
    billable = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["user", "kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.amount}"
