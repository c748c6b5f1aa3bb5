"""Reads for billing: plans on offer and what a user's subscription looks like now."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from tutorhub.billing.models import Payment, Plan, SubscriptionChange
from tutorhub.billing.models.payments import overdue_cutoff
from tutorhub.billing.services import subscription_current
from tutorhub.core.permissions import is_admin


def plan_list_active() -> QuerySet[Plan]:
    return Plan.objects.filter(is_active=True)


def subscription_detail(*, user) -> dict:
    """The subscription in force; users without one are shown their default plan (not stored)."""
    now = timezone.now()
    sub, plan, start, end = subscription_current(user=user, now=now)
    pending = (
        SubscriptionChange.objects.filter(user=user, status=SubscriptionChange.Status.PENDING)
        .select_related("to_plan")
        .order_by("-created_at")
        .first()
    )
    active = sub is not None and plan.pk == sub.plan_id
    return {
        "id": sub.pk if active else None,
        "plan": plan,
        "status": sub.status if active else "active",
        "is_default_plan": not active,
        "current_period_start": start,
        "current_period_end": end,
        "provider": sub.provider if active else "",
        "payment_method_last4": sub.payment_method_last4 if active else "",
        "pending_change": (
            {"reference": pending.reference, "plan_id": pending.to_plan.code, "created_at": pending.created_at}
            if pending
            else None
        ),
    }


def payment_list_visible(*, user) -> QuerySet[Payment]:
    """Admins see every payment; a student their own, a parent their children's."""
    payments = Payment.objects.select_related("student", "group")
    if is_admin(user):
        return payments
    return payments.filter(Q(student=user) | Q(student__parents=user)).distinct()


def payments_overdue(payments: QuerySet[Payment], *, overdue: bool = True) -> QuerySet[Payment]:
    """The overdue payments among `payments` (or, `overdue=False`, the others). Same rule as the
    scheduled job that marks them, so a list is right even before the job has run."""
    rule = Q(status=Payment.Status.OVERDUE) | Q(status=Payment.Status.PENDING, due_date__lt=overdue_cutoff())
    return payments.filter(rule) if overdue else payments.exclude(rule)
