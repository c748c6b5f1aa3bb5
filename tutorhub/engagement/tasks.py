from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from tutorhub.core.scheduler import periodic
from tutorhub.engagement.services import notification_deliveries_retry_due, notification_delivery_attempt
from tutorhub.engagement.webhooks import webhook_deliveries_retry_due, webhook_delivery_attempt


@task()
def notification_deliver(delivery_id: int, attempt: int | None = None) -> str | None:
    """Deliver one notification on one channel; a transient failure queues the next attempt with backoff."""
    return notification_delivery_attempt(delivery_id=delivery_id, attempt=attempt)


@task()
def webhook_deliver_task(delivery_id: str, attempt: int | None = None) -> str | None:
    """Send one webhook delivery attempt; a failed one schedules the next with backoff."""
    return webhook_delivery_attempt(delivery_id=delivery_id, attempt=attempt)


@periodic(every=timedelta(minutes=1))
@task()
def outbound_deliveries_sweep() -> int:
    """Hand out notification and webhook deliveries that are due: retries on task backends that
    cannot defer a task, and, on every backend, deliveries whose worker died mid-attempt (their
    claim's lease ran out). A retry already queued with `run_after` and the sweep never both send:
    each attempt claims its row first."""
    return notification_deliveries_retry_due() + webhook_deliveries_retry_due()
