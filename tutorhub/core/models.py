from __future__ import annotations

import uuid

from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class UUIDModel(TimeStampedModel):
    """User content (sessions, documents, ...) is addressed by UUID, never by a guessable int."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)

    class Meta:
        abstract = True


class ScheduledJobRun(models.Model):
    """When each periodic job last ran, so a restarted scheduler neither skips nor repeats."""

    name = models.CharField(max_length=200, unique=True)
    last_run_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_run_at:%Y-%m-%d %H:%M}"


class WorkerHeartbeat(models.Model):
    """One row per running task worker (`manage.py run_worker`), refreshed every few seconds by
    its heartbeat thread. The task a worker is running holds a lease for as long as the row's
    `heartbeat_at` is fresh: `tutorhub.core.task_leases` re-queues RUNNING tasks whose worker
    stopped beating (killed, OOM, machine lost), and /readyz reports the newest beat."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField(null=True)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(db_index=True)
    # The DBTaskResult id the worker is running now (None between tasks): the lease.
    current_task_id = models.UUIDField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"worker {self.worker_id} @ {self.heartbeat_at:%H:%M:%S}"


class ChannelLayerMessage(models.Model):
    """A group message published by one process for the others (tutorhub.core.channels_db)."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(db_index=True)
    origin = models.CharField(max_length=32)
    group = models.CharField(max_length=100)
    message = models.JSONField()

    def __str__(self) -> str:
        return f"{self.group} from {self.origin}"
