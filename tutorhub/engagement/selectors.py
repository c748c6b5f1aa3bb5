from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from tutorhub.core.permissions import is_admin
from tutorhub.engagement.achievements import DEFINITIONS
from tutorhub.engagement.activity import activity_sources
from tutorhub.engagement.models import (
    Achievement,
    CoinTransaction,
    Notification,
    WebhookDelivery,
    WebhookEndpoint,
)


def notification_list(*, user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user)


def notification_unread_count(*, user) -> int:
    return notification_list(user=user).filter(is_read=False).count()


def notification_get(*, user, notification_id) -> Notification | None:
    """One of the user's notifications, or None (also for an id that is not an integer)."""
    if not isinstance(notification_id, int):
        return None
    return notification_list(user=user).filter(pk=notification_id).first()


def coin_ledger(*, user) -> QuerySet[CoinTransaction]:
    return CoinTransaction.objects.filter(user=user)


def coin_totals(*, user) -> dict:
    """{"earned", "spent"}: coins ever earned and ever spent (both as positive numbers), one query."""
    totals = coin_ledger(user=user).aggregate(
        earned=Sum("amount", filter=Q(amount__gt=0)), spent=Sum("amount", filter=Q(amount__lt=0))
    )
    return {"earned": totals["earned"] or 0, "spent": -(totals["spent"] or 0)}


def coin_balance(*, user) -> int:
    """The balance as stored now (request.user may hold a value read before an award)."""
    return get_user_model().objects.values_list("coins", flat=True).get(pk=user.pk)


def webhook_endpoint_list(*, user) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(owner=user)


def webhook_delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return endpoint.deliveries.all()


def student_activity_stats(*, user) -> dict:
    """The metrics achievements are defined on, all computed from recorded activity: attendance
    and homework figures from their apps' activity sources, coins from the ledger here."""
    stats: dict = {}
    for source in activity_sources:
        stats.update(source.student_metrics(user))
    return {**stats, "coins_earned": coin_totals(user=user)["earned"], "coins_balance": coin_balance(user=user)}


def achievement_progress(*, student) -> dict:
    """Every defined achievement with the student's progress towards it and whether it is earned."""
    stats = student_activity_stats(user=student)
    earned = {a.code: a for a in Achievement.objects.filter(user=student)}
    items = [
        {
            "code": d.code,
            "title": d.title,
            "description": d.description,
            "metric": d.metric,
            "target": d.target,
            "current": stats.get(d.metric, 0),
            "progress_percentage": min(100, int(100 * stats.get(d.metric, 0) / d.target)) if d.target else 100,
            "coins": d.coins,
            "earned": d.code in earned,
            "earned_at": earned[d.code].earned_at if d.code in earned else None,
        }
        for d in DEFINITIONS
    ]
    return {"student_id": student.pk, "stats": stats, "earned_count": len(earned), "achievements": items}


def _count_subquery(queryset, field: str = "student") -> Subquery:
    counted = queryset.filter(**{field: OuterRef("pk")}).values(field).annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


# The leaderboard's tie-breakers after coins, in this order; the activity sources supply the rows.
LEADERBOARD_COUNTS = ("lessons_completed", "homeworks_completed")


def group_leaderboard(*, group) -> list[dict]:
    """The group's (a courses Group) students ranked by coins, then lessons attended, then
    homeworks approved (one query)."""
    rows: dict[str, QuerySet] = {}
    for source in activity_sources:
        rows.update(source.leaderboard_counts(group))
    missing = [column for column in LEADERBOARD_COUNTS if column not in rows]
    if missing:
        raise ImproperlyConfigured(f"No activity source counts {', '.join(missing)} (courses and homework register them).")
    students = (
        group.students.annotate(**{column: _count_subquery(rows[column]) for column in LEADERBOARD_COUNTS})
        .order_by("-coins", "-lessons_completed", "-homeworks_completed", "username")
        .values("id", "username", "first_name", "last_name", "coins", "lessons_completed", "homeworks_completed")
    )
    return [
        {
            "rank": rank,
            "student_id": row["id"],
            "username": row["username"],
            "full_name": f"{row['first_name']} {row['last_name']}".strip(),
            "coins": row["coins"],
            "lessons_completed": row["lessons_completed"],
            "homeworks_completed": row["homeworks_completed"],
        }
        for rank, row in enumerate(students, start=1)
    ]


def student_visible_to(*, viewer, student_id: int):
    """The student if `viewer` may see their records (self, parent, their teacher, admin), else None."""
    User = get_user_model()
    qs = User.objects.filter(pk=student_id)
    if is_admin(viewer):
        return qs.first()
    return qs.filter(
        Q(pk=viewer.pk) | Q(parents=viewer) | Q(study_groups__teacher=viewer)
    ).distinct().first()
