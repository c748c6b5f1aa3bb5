"""Background jobs of the learning app."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django_tasks import task

from tutorhub.core.scheduler import periodic


@task()
def weekly_reports_send_parent(parent_id: int) -> int:
    from tutorhub.learning.reports import weekly_reports_send_for_parent

    parent = get_user_model().objects.filter(pk=parent_id, is_active=True).first()
    return weekly_reports_send_for_parent(parent=parent) if parent else 0


@periodic(every=timedelta(days=7))
@task()
def weekly_reports_send_all() -> int:
    """Once a week: one job per parent with linked children, so one failure does not stop the rest."""
    parent_ids = list(
        get_user_model().objects.filter(role="parent", is_active=True, child_links__isnull=False).values_list("pk", flat=True).distinct()
    )
    for pk in parent_ids:
        transaction.on_commit(lambda pk=pk: weekly_reports_send_parent.enqueue(pk))
    return len(parent_ids)
