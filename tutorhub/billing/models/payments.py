from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from tutorhub.core.models import TimeStampedModel

# A pending payment becomes overdue once it is MORE than this many days past its due date (school dialect).
OVERDUE_GRACE_DAYS = 5


def overdue_cutoff(today=None):
    """Due dates strictly before this date are overdue (due + 5 days < today)."""
    return (today or timezone.localdate()) - timedelta(days=OVERDUE_GRACE_DAYS)


class Payment(TimeStampedModel):
    """A tuition payment a student owes for a group (school dialect)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONFIRMED = "confirmed", "Confirmed"
        OVERDUE = "overdue", "Overdue"
        FAILED = "failed", "Failed"

    class Method(models.TextChoices):
        CASH = "cash", "Cash"
        CARD = "card", "Card"
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        PAYME = "payme", "Payme"
        CLICK = "click", "Click"

    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")
    group = models.ForeignKey("courses.Group", on_delete=models.SET_NULL, null=True, blank=True, related_name="payments")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="UZS")
    payment_method = models.CharField(max_length=16, choices=Method.choices, default=Method.CASH)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    due_date = models.DateField(db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notes = models.TextField(blank=True)
    description = models.CharField(max_length=255, blank=True)
    # Payme merchant transaction (JSON-RPC webhook) state, see billing/payment_services.py.
    provider_transaction_id = models.CharField(max_length=64, blank=True, db_index=True)
    provider_state = models.SmallIntegerField(null=True, blank=True)
    provider_create_time = models.BigIntegerField(null=True, blank=True)
    provider_perform_time = models.BigIntegerField(null=True, blank=True)
    provider_cancel_time = models.BigIntegerField(null=True, blank=True)
    provider_cancel_reason = models.SmallIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-due_date", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive")]

    def __str__(self) -> str:
        return f"{self.student_id} {self.amount} {self.currency} ({self.status})"

    @property
    def is_overdue(self) -> bool:
        if self.status == self.Status.OVERDUE:
            return True
        return self.status == self.Status.PENDING and self.due_date < overdue_cutoff()
