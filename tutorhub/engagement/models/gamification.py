from __future__ import annotations

from django.conf import settings
from django.db import models


class CoinTransaction(models.Model):
    """The coin ledger: every change of User.coins is one row here, written in the same transaction.

    `idempotency_key` makes an award happen at most once (e.g. "homework-approved:<submission id>"),
    however many times the triggering request or task is retried.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coin_transactions")
    amount = models.IntegerField()
    reason = models.CharField(max_length=200)
    idempotency_key = models.CharField(max_length=150, unique=True)
    balance_after = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.amount:+d} ({self.reason})"


class Achievement(models.Model):
    """An achievement a user earned (codes are defined in engagement/achievements.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="achievements")
    code = models.CharField(max_length=50)
    title = models.CharField(max_length=100)
    description = models.CharField(max_length=255, blank=True)
    coins_awarded = models.PositiveIntegerField(default=0)
    earned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-earned_at"]
        constraints = [models.UniqueConstraint(fields=["user", "code"], name="achievement_unique_user_code")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.code}"
