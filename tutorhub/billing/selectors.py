"""Reads for billing: plans and their periods, what a user's subscription looks like now, usage
against the plan, payments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.utils import timezone

from tutorhub.billing.models import Payment, Plan, Subscription, SubscriptionChange, UsageRecord
from tutorhub.billing.models.payments import overdue_cutoff
from tutorhub.core.permissions import is_admin

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_PLANS = [
    # code, name, price_cents, interval, ai_tokens, documents, storage bytes, default, sort
    ("free", "Free", 0, "month", 50_000, 100, 1000 * 1024 * 1024, True, 0),
    ("premium_monthly", "Premium (monthly)", 999, "month", 1_000_000, 1000, 10 * 1024**3, False, 10),
    ("premium_yearly", "Premium (yearly)", 9900, "year", 12_000_000, 12_000, 10 * 1024**3, False, 20),
]


def plan_default() -> Plan:
    """The plan of users without a subscription (seeded by a migration). The one write a billing
    read can make: if an admin deleted it, it is recreated from DEFAULT_PLANS, since every read
    of a user's limits depends on there being one."""
    plan = Plan.objects.filter(is_default=True).first()
    if plan is None:
        code, name, price, interval, tokens, docs, storage, _, sort = DEFAULT_PLANS[0]
        plan, _ = Plan.objects.get_or_create(
            code=code,
            defaults=dict(name=name, price_cents=price, interval=interval, ai_tokens_limit=tokens,
                          documents_limit=docs, storage_limit_bytes=storage, is_default=True, sort_order=sort),
        )
    return plan


def _add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    days_in_month = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return moment.replace(year=year, month=month, day=min(moment.day, days_in_month[month - 1]))


def period_containing(*, anchor: datetime, interval: str, now: datetime) -> tuple[datetime, datetime]:
    """The [start, end) period of `interval` steps from `anchor` that contains `now`."""
    step = 12 if interval == Plan.Interval.YEAR else 1
    start = anchor
    if now < start:
        return start, _add_months(start, step)
    # Jump close first so an old anchor does not loop for years of months.
    months = (now.year - anchor.year) * 12 + now.month - anchor.month
    n = max(0, months // step - 1)
    start = _add_months(anchor, n * step)
    while _add_months(start, step) <= now:
        n += 1
        start = _add_months(anchor, n * step)
    return start, _add_months(anchor, (n + 1) * step)


IN_FORCE = (Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE)


def _period(*, plan: Plan, anchor: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """A subscription's period from its anchor; without one (the default plan), the calendar month."""
    if anchor is not None:
        return period_containing(anchor=anchor, interval=plan.interval, now=now)
    month_start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return month_start, _add_months(month_start, 1)


def plan_in_force(*, user, now: datetime, lock_key: int | None = None) -> tuple[Plan, datetime, datetime]:
    """The plan whose limits apply to `user` at `now` (their subscription's plan while it is active
    or past due, else the default plan) and its current period, in ONE query: the default plan
    and the subscribed plan, each marked with whether the user's subscription to it is in force
    and from when its periods count.

    `lock_key`: on PostgreSQL the same statement takes pg_advisory_xact_lock(lock_key) for the
    caller's transaction (quota checks lock a user's quota this way, so a check is three
    statements, not five)."""
    subscription = Subscription.objects.filter(user=user, plan=OuterRef("pk"), status__in=IN_FORCE)
    subscribed = Subscription.objects.filter(user=user).values("plan_id")
    plans = Plan.objects.filter(Q(is_default=True) | Q(pk__in=subscribed)).annotate(
        in_force=Exists(subscription), anchor=Subquery(subscription.values("current_period_start")[:1])
    )
    postgresql = lock_key is not None and connection.vendor == "postgresql"
    if postgresql:
        plans = plans.annotate(locked=RawSQL("(SELECT 1 FROM pg_advisory_xact_lock(%s))", [lock_key]))
    rows = list(plans)
    chosen = next((p for p in rows if p.in_force), None) or next((p for p in rows if p.is_default), None)
    if chosen is None:  # no default plan (deleted): lock in a statement of its own, then recreate it
        if postgresql:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key])
        chosen = plan_default()
    return chosen, *_period(plan=chosen, anchor=getattr(chosen, "anchor", None), now=now)


def subscription_current(*, user, now: datetime | None = None) -> tuple[Subscription | None, Plan, datetime, datetime]:
    """(the user's subscription or None, the plan in force, period start, period end)."""
    now = now or timezone.now()
    return Subscription.objects.filter(user=user).first(), *plan_in_force(user=user, now=now)


def usage_total(*, user, kind: str, start: datetime, end: datetime | None = None) -> int:
    """What counts against the plan: billable usage of `kind` in [start, end)."""
    qs = UsageRecord.objects.filter(user=user, kind=kind, created_at__gte=start, billable=True)
    if end is not None:
        qs = qs.filter(created_at__lt=end)
    return int(qs.aggregate(s=Sum("amount"))["s"] or 0)


def usage_by_feature(*, user, start: datetime, end: datetime) -> list[dict]:
    """AI tokens per feature in [start, end), free (offline) work included: `tokens` is all
    of it, `charged_tokens` what counted against the plan."""
    rows = (
        UsageRecord.objects.filter(user=user, kind=UsageRecord.Kind.AI_TOKENS, created_at__gte=start, created_at__lt=end)
        .values("feature")
        .annotate(tokens=Sum("amount"), charged_tokens=Sum("amount", filter=Q(billable=True)))
        .order_by("feature")
    )
    return [
        {"feature": r["feature"] or "other", "tokens": int(r["tokens"] or 0), "charged_tokens": int(r["charged_tokens"] or 0)}
        for r in rows
    ]


def usage_summary(*, user, now: datetime | None = None) -> dict:
    """The canonical API's usage statistics, summed from UsageRecord rows."""
    now = now or timezone.now()
    plan, start, end = plan_in_force(user=user, now=now)
    by_feature = usage_by_feature(user=user, start=start, end=end)
    tokens = sum(row["charged_tokens"] for row in by_feature)  # usage_total's ai_tokens, without its own query
    documents = usage_total(user=user, kind="documents", start=start, end=end)
    storage = max(0, usage_total(user=user, kind="storage_bytes", start=EPOCH))
    mb = 1024 * 1024

    def pct(used: float, limit: float | None) -> float | None:
        return round(100 * used / limit, 1) if limit else None

    storage_limit_mb = round(plan.storage_limit_bytes / mb, 2) if plan.storage_limit_bytes is not None else None
    return {
        "plan": plan.code,
        "current_period": {
            "start_date": start.date(),
            "end_date": (end - timedelta(days=1)).date(),
            "ai_tokens_used": tokens,
            "ai_tokens_limit": plan.ai_tokens_limit,
            "documents_processed": documents,
            "documents_limit": plan.documents_limit,
            "storage_used_mb": round(storage / mb, 2),
            "storage_limit_mb": storage_limit_mb,
        },
        "usage_percentage": {
            "ai_tokens": pct(tokens, plan.ai_tokens_limit),
            "documents": pct(documents, plan.documents_limit),
            "storage": pct(storage, plan.storage_limit_bytes),
        },
        "by_feature": by_feature,
    }


def plan_get(*, plan_id: str) -> Plan:
    plan = Plan.objects.filter(code=str(plan_id), is_active=True).first()
    if plan is None and str(plan_id).isdigit():
        plan = Plan.objects.filter(pk=int(plan_id), is_active=True).first()
    if plan is None:
        raise ValidationError({"plan_id": ["Unknown plan."]})
    return plan


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
