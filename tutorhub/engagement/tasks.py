from __future__ import annotations

from datetime import timedelta

from django_tasks import default_task_backend, task

from tutorhub.core.scheduler import periodic
from tutorhub.engagement.services import notification_delivery_attempt
from tutorhub.engagement.webhooks import webhook_deliveries_retry_due


@task()
def notification_deliver(delivery_id: int) -> str:
    """Deliver one notification on one channel; transient failures re-enqueue themselves with backoff."""
    return notification_delivery_attempt(delivery_id=delivery_id)


@periodic(every=timedelta(minutes=1))
@task()
def webhook_deliveries_sweep() -> int:
    """Send webhook retries whose backoff has passed. Only task backends that cannot defer a task
    need this: with the database backend each retry is already queued with `run_after`."""
    if default_task_backend.supports_defer:
        return 0
    return webhook_deliveries_retry_due()
