from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from tutorhub.core.scheduler import periodic


@periodic(every=timedelta(hours=1))
@task()
def payments_overdue_mark() -> int:
    """Hourly: pending payments more than 5 days past due become overdue (with notifications)."""
    from tutorhub.billing.payment_services import payments_mark_overdue

    return payments_mark_overdue()


@periodic(every=timedelta(hours=1))
@task()
def quota_reservations_purge() -> int:
    """Hourly: delete expired quota reservations (requests that died before recording usage)."""
    from tutorhub.billing.services import quota_reservations_purge as purge

    return purge()
