"""Leases for django-tasks-db: work survives a dead worker.

django-tasks-db claims a task by flipping its row to RUNNING and never looks at it again: a
worker killed mid-task leaves the row RUNNING forever. Here a running task holds a lease:
the `WorkerHeartbeat` row of the worker running it names the task (`current_task_id`, set in
the claim's own transaction) and is refreshed every TASK_HEARTBEAT_SECONDS by the worker's
heartbeat thread. Every worker also sweeps every TASK_LEASE_SWEEP_SECONDS: a RUNNING task
that no fresh heartbeat names has lost its worker and goes back to READY (any worker, the
restarted one included, runs it again), or FAILED with a clear reason once it has been
started TASK_MAX_ATTEMPTS times (the attempt count is the length of the row's `worker_ids`,
which django-tasks-db appends to on every claim). A failed-by-lease task fires django-tasks'
`task_finished` signal like any other failure, so the app that enqueued it can react.

Tasks must therefore be safe to run again (document processing replaces its chunks and
vectors). Plain `manage.py db_worker` beats no heartbeat: run `manage.py run_worker`.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.compat import TaskResultStatus, task_backends, task_finished
from django_tasks_db.models import DBTaskResult

from tutorhub.core.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

SWEEP_BATCH = 100
# Rows of workers gone this long are deleted by the sweep (readyz reads only the newest).
FORGET_WORKERS_AFTER = timedelta(days=1)


class TaskLeaseExpired(Exception):
    """Stored as the failure of a task whose workers kept dying under it."""


def _lease() -> timedelta:
    return timedelta(seconds=settings.TASK_LEASE_SECONDS)


def uses_database_queue(alias: str = "default") -> bool:
    return isinstance(task_backends[alias], DatabaseBackend)


def heartbeat(*, worker_id: str, current_task_id=None, started_at=None) -> None:
    """Record that `worker_id` is alive and running `current_task_id` (None: idle)."""
    now = timezone.now()
    updated = WorkerHeartbeat.objects.filter(worker_id=worker_id).update(heartbeat_at=now, current_task_id=current_task_id)
    if not updated:
        WorkerHeartbeat.objects.create(
            worker_id=worker_id, hostname=socket.gethostname()[:255], pid=os.getpid(),
            started_at=started_at or now, heartbeat_at=now, current_task_id=current_task_id,
        )


def worker_gone(*, worker_id: str) -> None:
    """A worker that exits cleanly drops its row (its task, if any, was already released)."""
    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


def _live_leases(now):
    return WorkerHeartbeat.objects.filter(heartbeat_at__gte=now - _lease(), current_task_id__isnull=False).values(
        "current_task_id"
    )


def tasks_active(task_ids) -> set[str] | None:
    """Of `task_ids`, those queued or running under a live lease (two queries for any number).
    None when the task backend is not the database queue: there is no lease to look at."""
    if not uses_database_queue():
        return None
    wanted = set()
    for task_id in task_ids:
        try:
            wanted.add(uuid.UUID(str(task_id)))
        except ValueError:
            continue  # not a database task id (another backend queued it): not active here
    rows = dict(
        DBTaskResult.objects.filter(
            pk__in=wanted, status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
        ).values_list("pk", "status")
    )
    running = [pk for pk, status in rows.items() if status == TaskResultStatus.RUNNING]
    leased = set(_live_leases(timezone.now()).filter(current_task_id__in=running).values_list("current_task_id", flat=True))
    return {str(pk) for pk, status in rows.items() if status == TaskResultStatus.READY or pk in leased}


def task_is_active(task_id) -> bool | None:
    """Whether one task is queued or running under a live lease (None: not the database queue)."""
    active = tasks_active([task_id])
    return None if active is None else bool(active)


def task_release(*, task_id, worker_id: str) -> bool:
    """Hand a task this worker is abandoning (shutdown) back to the queue at once; the attempt
    does not count. Returns whether the row was still this worker's to release."""
    with transaction.atomic():
        result = DBTaskResult.objects.select_for_update().filter(pk=task_id, status=TaskResultStatus.RUNNING).first()
        if result is None or not result.worker_ids or result.worker_ids[-1] != worker_id:
            return False
        result.status = TaskResultStatus.READY
        result.started_at = None
        result.worker_ids = result.worker_ids[:-1]
        result.save(update_fields=["status", "started_at", "worker_ids"])
        WorkerHeartbeat.objects.filter(worker_id=worker_id).update(current_task_id=None)
    logger.warning("Released task %s (%s) back to the queue: worker %s is stopping", task_id, result.task_path, worker_id)
    return True


def leases_expire(*, now=None) -> dict[str, int]:
    """Requeue (or fail, past TASK_MAX_ATTEMPTS) RUNNING tasks whose lease expired.
    Returns {"requeued": n, "failed": m}."""
    now = now or timezone.now()
    counts = {"requeued": 0, "failed": 0}
    failed: list[DBTaskResult] = []
    with transaction.atomic():
        expired = list(
            DBTaskResult.objects.running()
            .filter(started_at__lt=now - _lease())
            .exclude(pk__in=_live_leases(now))
            .select_for_update(skip_locked=True)[:SWEEP_BATCH]
        )
        for result in expired:
            attempts = len(result.worker_ids)
            last_worker = result.worker_ids[-1] if result.worker_ids else "?"
            if attempts >= settings.TASK_MAX_ATTEMPTS:
                result.set_failed(
                    TaskLeaseExpired(
                        f"Gave up after {attempts} attempts: the worker running the task stopped "
                        f"(no heartbeat for {settings.TASK_LEASE_SECONDS:g} s; last worker {last_worker})."
                    )
                )
                failed.append(result)
                counts["failed"] += 1
                logger.error("Task %s (%s) failed: its worker died %d times", result.pk, result.task_path, attempts)
            else:
                result.status = TaskResultStatus.READY
                result.started_at = None
                result.save(update_fields=["status", "started_at"])
                counts["requeued"] += 1
                logger.warning(
                    "Task %s (%s) requeued: worker %s stopped beating (attempt %d of %d)",
                    result.pk, result.task_path, last_worker, attempts, settings.TASK_MAX_ATTEMPTS,
                )
        WorkerHeartbeat.objects.filter(heartbeat_at__lt=now - FORGET_WORKERS_AFTER).delete()
    for result in failed:
        _announce_failure(result)
    return counts


def _announce_failure(result: DBTaskResult) -> None:
    try:
        task_result = result.task_result
    except Exception:  # the task's code is gone (renamed, removed): nothing to tell
        logger.warning("Task %s failed by lease has no importable task (%s)", result.pk, result.task_path)
        return
    task_finished.send(sender=type(task_result.task.get_backend()), task_result=task_result)


def queue_status(*, now=None) -> dict:
    """What /readyz reports about the queue: the newest worker heartbeat and the oldest task
    waiting to run (ages in seconds, None when there is none)."""
    now = now or timezone.now()
    newest = WorkerHeartbeat.objects.order_by("-heartbeat_at").values_list("heartbeat_at", flat=True).first()
    oldest = DBTaskResult.objects.ready().order_by("enqueued_at").values_list("enqueued_at", flat=True).first()
    return {
        "worker_heartbeat_age_seconds": round((now - newest).total_seconds(), 1) if newest else None,
        "oldest_queued_task_age_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
    }
