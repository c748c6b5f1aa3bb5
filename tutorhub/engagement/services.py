"""Notifications, coins, achievements and webhooks."""

from __future__ import annotations

from tutorhub.engagement.models import Notification


def notification_create(*, user, kind: str, title: str, message: str = "", data: dict | None = None) -> Notification:
    """Create an in-app notification for `user`.

    Contract for every app: call this for any event a user should hear about. (Live push on
    ws/notifications/ and delivery to the enabled channels hang off this one function.)
    """
    return Notification.objects.create(user=user, kind=kind, title=title, message=message, data=data or {})
