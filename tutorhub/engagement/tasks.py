from __future__ import annotations

from django_tasks import task

from tutorhub.engagement.services import notification_delivery_attempt


@task()
def notification_deliver(delivery_id: int) -> str:
    """Deliver one notification on one channel; transient failures re-enqueue themselves with backoff."""
    return notification_delivery_attempt(delivery_id=delivery_id)
