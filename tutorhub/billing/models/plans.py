"""Subscription plans, subscriptions and the rows that make quota checks exact under concurrency."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tutorhub.core.models import TimeStampedModel


class Plan(TimeStampedModel):
    """A plan's limits per billing period. A null limit means unlimited.

    ai_tokens and documents reset every period; storage is a standing total (it does not reset).
    """

    class Interval(models.TextChoices):
        MONTH = "month", "Monthly"
        YEAR = "year", "Yearly"

    code = models.SlugField(max_length=50, unique=True, help_text="What clients send as plan_id")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    price_cents = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, default="USD")
    interval = models.CharField(max_length=5, choices=Interval.choices, default=Interval.MONTH)
    ai_tokens_limit = models.BigIntegerField(null=True, blank=True)
    documents_limit = models.PositiveIntegerField(null=True, blank=True)
    storage_limit_bytes = models.BigIntegerField(null=True, blank=True)
    is_default = models.BooleanField(default=False, help_text="The plan of users with no subscription")
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "price_cents"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True), name="billing_one_default_plan")
        ]

    def __str__(self) -> str:
        return self.name

    def limit_for(self, kind: str) -> int | None:
        return {
            "ai_tokens": self.ai_tokens_limit,
            "documents": self.documents_limit,
            "storage_bytes": self.storage_limit_bytes,
        }.get(kind)


class Subscription(TimeStampedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PENDING = "pending", "Pending payment"
        PAST_DUE = "past_due", "Past due"
        CANCELED = "canceled", "Canceled"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # The period anchor: periods run from here in steps of the plan's interval.
    current_period_start = models.DateTimeField(default=timezone.now)  # an admin's grant starts now
    provider = models.CharField(max_length=50, blank=True)
    provider_customer_id = models.CharField(max_length=100, blank=True)
    payment_method_last4 = models.CharField(max_length=4, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id} {self.plan.code} {self.status}"


class SubscriptionChange(TimeStampedModel):
    """Every plan change a provider handled; a pending change waits for the provider's webhook."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription_changes")
    from_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    to_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    provider = models.CharField(max_length=50)
    reference = models.CharField(max_length=100, unique=True)
    amount_cents = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.reference


class ProviderEvent(models.Model):
    """Webhook events already processed, so a provider's retries are applied once."""

    provider = models.CharField(max_length=50)
    event_id = models.CharField(max_length=100)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="billing_provider_event_once")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_id}"


class QuotaReservation(models.Model):
    """Usage promised to a request that passed its quota check but has not recorded usage yet.

    Counted with recorded usage by later checks; released when the request records its usage,
    and ignored after `expires_at` if the request died without recording anything.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    amount = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["user", "kind", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.amount}"
