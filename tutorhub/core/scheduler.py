"""Periodic jobs for the task worker.

Apps declare `@periodic(every=timedelta(...))` on a django-tasks task in their `tasks.py`;
`manage.py run_scheduler` (started by `make run`) enqueues each job when it is due. The last
run is stored in the database, so a restarted scheduler neither skips nor repeats a job, and
the row lock keeps two schedulers from enqueueing the same run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    task: object  # a django_tasks Task


_registry: dict[str, PeriodicJob] = {}


def periodic(*, every: timedelta, name: str | None = None):
    def register(task):
        job_name = name or f"{task.module_path}"
        _registry[job_name] = PeriodicJob(name=job_name, every=every, task=task)
        return task

    return register


def registered_jobs() -> dict[str, PeriodicJob]:
    autodiscover_modules("tasks")
    return dict(_registry)


def run_due_jobs(*, now=None) -> list[str]:
    """Enqueue every job whose interval has passed; returns the names enqueued."""
    from tutorhub.core.models import ScheduledJobRun

    now = now or timezone.now()
    started: list[str] = []
    for job in registered_jobs().values():
        with transaction.atomic():
            run, created = ScheduledJobRun.objects.select_for_update().get_or_create(
                name=job.name, defaults={"last_run_at": now}
            )
            if not created and run.last_run_at + job.every > now:
                continue
            run.last_run_at = now
            run.save(update_fields=["last_run_at"])
            # In the same transaction: a run is recorded only if its task was queued (on the
            # database queue both rows commit together; an outage rolls both back).
            job.task.enqueue()
        started.append(job.name)
    return started
