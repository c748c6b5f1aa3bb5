"""Notifications, coins and achievements.

notification_create is the one entry point every app uses for user-facing events: it stores
the in-app notification, pushes it live on ws/notifications/ after commit, and enqueues one
delivery per enabled external channel (email, Telegram, SMS) with retries.
"""

from __future__ import annotations

import logging
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from tutorhub.core.exceptions import ServiceError
from tutorhub.core.retry import Outcome, RetryPolicy, enqueue_at
from tutorhub.engagement.delivery import DeliveryError, channel_backends
from tutorhub.engagement.models import (
    Achievement,
    CoinTransaction,
    Notification,
    NotificationDelivery,
    NotificationPreference,
)

logger = logging.getLogger(__name__)

# Which preference switch governs which notification kinds (by prefix). Kinds outside these
# categories (weekly reports, system messages) always go out on the enabled channels.
CATEGORY_FLAGS = {
    "payment": "payment_notifications",
    "homework": "homework_notifications",
    "lesson": "lesson_notifications",
    "attendance": "attendance_notifications",
    "coins": "gamification_notifications",
    "achievement": "gamification_notifications",
}


def notification_group_name(user_id: int) -> str:
    return f"notifications.user.{user_id}"


def notification_payload(notification: Notification) -> dict:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "message": notification.message,
        "data": notification.data,
        "is_read": notification.is_read,
        "created_at": notification.created_at.isoformat().replace("+00:00", "Z"),
    }


def notification_preference_get(*, user) -> NotificationPreference:
    preference, _ = NotificationPreference.objects.get_or_create(
        user=user, defaults={"phone_number": getattr(user, "phone_number", "") or ""}
    )
    return preference


@transaction.atomic
def notification_preference_update(*, user, data: dict) -> NotificationPreference:
    preference = notification_preference_get(user=user)
    for field, value in data.items():
        setattr(preference, field, value)
    preference.save()
    return preference


def _wants(preference: NotificationPreference | None, kind: str) -> bool:
    flag = CATEGORY_FLAGS.get(kind.split("_", 1)[0])
    return True if (preference is None or flag is None) else bool(getattr(preference, flag))


@transaction.atomic
def notification_create(*, user, kind: str, title: str, message: str = "", data: dict | None = None) -> Notification:
    """Create an in-app notification for `user`, push it live and queue its external deliveries.

    In-app notifications are always stored; the user's preferences decide which kinds go out on
    which channels. Push and deliveries happen after commit, so a rolled-back event sends nothing.
    """
    notification = Notification.objects.create(user=user, kind=kind, title=title, message=message, data=data or {})
    preference = NotificationPreference.objects.filter(user=user).first()
    delivery_ids: list[int] = []
    if _wants(preference, kind):
        for name, backend in channel_backends().items():
            enabled = getattr(preference, backend.preference_flag, name == "email") if preference else name == "email"
            if enabled and backend.address(user, preference):
                delivery_ids.append(NotificationDelivery.objects.create(notification=notification, channel=name).pk)
    transaction.on_commit(partial(_after_commit, notification.pk, delivery_ids))
    return notification


def _after_commit(notification_id: int, delivery_ids: list[int]) -> None:
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is not None:
        notification_push(notification=notification)
    for delivery_id in delivery_ids:
        _deliver_task().enqueue(delivery_id)


def notification_push(*, notification: Notification) -> None:
    """Send the notification to the user's open ws/notifications/ sockets (best effort)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            notification_group_name(notification.user_id),
            {"type": "notification.message", "notification": notification_payload(notification)},
        )
    except Exception:  # a down channel layer must not fail the event that caused the notification
        logger.warning("Live push of notification %s failed", notification.pk, exc_info=True)


def _notification_policy() -> RetryPolicy:
    # Built per call so settings overrides take effect.
    return RetryPolicy(base_seconds=settings.NOTIFICATION_RETRY_SECONDS, max_attempts=settings.NOTIFICATION_MAX_ATTEMPTS)


def _pending_deliveries():
    return NotificationDelivery.objects.select_related("notification__user").filter(
        status=NotificationDelivery.Status.PENDING
    )


def _send_delivery(delivery: NotificationDelivery) -> Outcome:
    notification = delivery.notification
    backend = channel_backends().get(delivery.channel)
    if backend is None:
        return Outcome(error="channel is no longer configured", permanent=True)
    preference = NotificationPreference.objects.filter(user=notification.user).first()
    address = backend.address(notification.user, preference)
    if not address:
        return Outcome(error="the user has no address for this channel", permanent=True)
    try:
        backend.send(address=address, title=notification.title, message=notification.message)
    except DeliveryError as exc:
        return Outcome(error=str(exc), permanent=exc.permanent)
    return Outcome()


def _deliver_task():
    # engagement.tasks imports this module's services, so the task is looked up when it is used.
    from tutorhub.engagement.tasks import notification_deliver

    return notification_deliver


def notification_delivery_attempt(*, delivery_id: int, attempt: int | None = None) -> str | None:
    """Try one delivery once if this worker wins its claim (`attempt`: the sweep's claim token).
    Returns the status written, or None when another worker holds it or it is not due; a
    transient failure queues the next attempt with backoff (tutorhub.core.retry)."""
    return _notification_policy().attempt(
        _pending_deliveries(), delivery_id, token=attempt, send=_send_delivery,
        delivered=lambda now: {"status": NotificationDelivery.Status.SENT, "sent_at": now},
        retry=lambda at: enqueue_at(_deliver_task(), delivery_id, at=at),
    )


def notification_deliveries_retry_due(*, now=None) -> int:
    """Claim the deliveries whose backoff has passed (or whose worker's lease ran out) and queue an
    attempt for each; returns how many were claimed."""
    return _notification_policy().sweep(
        _pending_deliveries(), lambda claim: _deliver_task().enqueue(claim.pk, claim.attempt), now=now
    )


@transaction.atomic
def notification_mark_read(*, notification: Notification) -> Notification:
    if not notification.is_read:
        notification.is_read, notification.read_at = True, timezone.now()
        notification.save(update_fields=["is_read", "read_at", "updated_at"])
    return notification


@transaction.atomic
def notification_mark_all_read(*, user) -> int:
    return Notification.objects.filter(user=user, is_read=False).update(is_read=True, read_at=timezone.now())


# --- coins ----------------------------------------------------------------------------------


@transaction.atomic
def coins_award(*, user, amount: int, reason: str, idempotency_key: str, notify: bool = True) -> CoinTransaction:
    """Move `amount` coins (negative to spend) for `user`, at most once per `idempotency_key`.

    The user row is locked (select_for_update) and updated with F() in the same transaction as
    the ledger row, so concurrent awards neither lose nor double coins. Returns the ledger row
    (the existing one when the key was already used). Raises ServiceError when spending more
    than the balance.
    """
    existing = CoinTransaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing:
        return existing
    User = get_user_model()
    locked = User.objects.select_for_update().only("id", "coins").get(pk=user.pk)
    # Re-check under the lock: a concurrent award with the same key may have just committed.
    existing = CoinTransaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing:
        return existing
    balance = locked.coins + int(amount)
    if balance < 0:
        raise ServiceError("Not enough coins.", error_code="INSUFFICIENT_COINS")
    try:
        with transaction.atomic():
            entry = CoinTransaction.objects.create(
                user_id=user.pk, amount=int(amount), reason=reason[:200], idempotency_key=idempotency_key, balance_after=balance
            )
    except IntegrityError:  # same key used for another user concurrently
        return CoinTransaction.objects.get(idempotency_key=idempotency_key)
    User.objects.filter(pk=user.pk).update(coins=F("coins") + int(amount))
    user.coins = balance
    if notify and amount > 0:
        notification_create(
            user=user,
            kind="coins_awarded",
            title=f"You earned {amount} coins",
            message=reason,
            data={"amount": int(amount), "balance": balance, "reason": reason},
        )
    return entry


# --- achievements ---------------------------------------------------------------------------


@transaction.atomic
def achievements_evaluate(*, user) -> list[Achievement]:
    """Grant every achievement whose target the user's real activity has reached; returns the new ones."""
    from tutorhub.engagement.achievements import DEFINITIONS
    from tutorhub.engagement.selectors import student_activity_stats

    stats = student_activity_stats(user=user)
    have = set(Achievement.objects.filter(user=user).values_list("code", flat=True))
    earned: list[Achievement] = []
    for definition in DEFINITIONS:
        if definition.code in have or stats.get(definition.metric, 0) < definition.target:
            continue
        achievement = Achievement.objects.create(
            user=user,
            code=definition.code,
            title=definition.title,
            description=definition.description,
            coins_awarded=definition.coins,
        )
        earned.append(achievement)
        notification_create(
            user=user,
            kind="achievement_earned",
            title=f"Achievement unlocked: {definition.title}",
            message=definition.description,
            data={"code": definition.code, "coins": definition.coins},
        )
        if definition.coins:
            coins_award(
                user=user,
                amount=definition.coins,
                reason=f"Achievement: {definition.title}",
                idempotency_key=f"achievement:{user.pk}:{definition.code}",
                notify=False,
            )
    return earned
