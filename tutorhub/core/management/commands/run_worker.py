"""`manage.py run_worker`: django-tasks-db's worker with leases, a clean SIGTERM and no exit on
database errors. Takes db_worker's options (queues, interval, batch, max tasks, worker id)."""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django_tasks_db.management.commands.db_worker import Command as DBWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from tutorhub.core.backoff import DB_OUTAGE_ERRORS, Backoff
from tutorhub.core.task_leases import heartbeat, leases_expire, task_release, worker_gone

logger = logging.getLogger("tutorhub.worker")


class LeasedWorker(Worker):
    """A db_worker Worker whose running task holds a lease (see tutorhub.core.task_leases).

    A heartbeat thread refreshes this worker's WorkerHeartbeat row and sweeps expired leases
    of other (dead) workers. SIGTERM/SIGINT: stop taking tasks; an idle worker exits at once,
    a busy one lets its task finish for WORKER_SHUTDOWN_GRACE_SECONDS, then hands the task back
    to the queue and exits (a second signal hands it back at once). Database errors anywhere
    in the loop are logged and retried with backoff (1 s doubling to 30 s): never an exit.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.current_task_id = None
        self.started_at = timezone.now()
        self._stop = threading.Event()
        self._abandon_at: float | None = None
        self._beats_failing = False

    # --- signals ---------------------------------------------------------------------------
    def shutdown(self, signum, frame) -> None:
        if self.running_task:
            now = time.monotonic()
            deadline = now if not self.running else now + settings.WORKER_SHUTDOWN_GRACE_SECONDS
            self._abandon_at = deadline if self._abandon_at is None else min(self._abandon_at, deadline)
            self.running = False
            logger.warning(
                "Received %s: handing task %s back in %.0f s unless it finishes",
                signal.strsignal(signum), self.current_task_id, self._abandon_at - now,
            )
            self._stop.set()  # wake the heartbeat thread; it watches the deadline
            return
        logger.warning("Received %s: stopping", signal.strsignal(signum))
        self.running = False
        # Idle (sleeping or claiming): leave now. A claim in flight rolls back, and a task
        # claimed but not started yet is released by run()'s finally.
        raise SystemExit(0)

    # --- main loop -------------------------------------------------------------------------
    def run(self) -> None:
        logger.info("Starting worker worker_id=%s queues=%s", self.worker_id, ",".join(self.queue_names))
        self._beat()  # the row exists before the thread and the claims both write it
        beater = threading.Thread(target=self._beat_loop, name="heartbeat", daemon=True)
        beater.start()
        if self.startup_delay and self.interval:
            time.sleep(random.random())  # noqa: S311  (spread workers started together)
        backoff = Backoff(initial=1.0, maximum=30.0)
        try:
            while self.running:
                try:
                    close_old_connections()
                    ran = self._claim_and_run()
                    backoff.reset()
                except DB_OUTAGE_ERRORS as exc:
                    delay = backoff.failed()
                    logger.warning("Database error in the worker loop (%s: %s); retrying in %.0f s", type(exc).__name__, exc, delay)
                    connection.close_if_unusable_or_obsolete()
                    time.sleep(delay)
                    continue
                if self.batch and not ran:
                    logger.info("No more tasks to run for worker_id=%s - exiting.", self.worker_id)
                    return
                if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                    logger.info("Ran the maximum of %d tasks - exiting.", self._run_tasks)
                    return
                if self.running and not ran:
                    time.sleep(self.interval)
        finally:
            self._stop_beating(beater)

    def _claim_and_run(self) -> bool:
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        with exclusive_transaction(tasks.db):
            task_result = tasks.get_locked()
            if task_result is None:
                return False
            task_result.claim(self.worker_id)
            # The lease is taken in the claim's transaction: no moment where the task is
            # RUNNING without a live worker naming it.
            heartbeat(worker_id=self.worker_id, current_task_id=task_result.pk, started_at=self.started_at)
            self.current_task_id = task_result.pk
        try:
            self.run_task(task_result)
        except DB_OUTAGE_ERRORS:
            # The result could not be stored: drop the lease so the task runs again.
            self.current_task_id = None
            raise
        # Not in a `finally`: a SystemExit between the claim and the task's start must leave
        # the id set for run() to release.
        self.current_task_id = None
        return True

    # --- heartbeat thread ------------------------------------------------------------------
    def _beat_loop(self) -> None:
        next_beat = time.monotonic() + settings.TASK_HEARTBEAT_SECONDS
        next_sweep = 0.0
        try:
            while True:
                now = time.monotonic()
                if self._abandon_at is not None and now >= self._abandon_at:
                    self._abandon()
                if self._stop.is_set() and self._abandon_at is None:
                    return
                if now >= next_beat:
                    self._beat()
                    next_beat = now + settings.TASK_HEARTBEAT_SECONDS
                if now >= next_sweep:
                    self._sweep()
                    next_sweep = now + settings.TASK_LEASE_SWEEP_SECONDS
                if self._abandon_at is not None:
                    time.sleep(0.1)
                else:
                    self._stop.wait(max(0.05, min(next_beat, next_sweep) - time.monotonic()))
        finally:
            connection.close()

    def _beat(self) -> None:
        try:
            heartbeat(worker_id=self.worker_id, current_task_id=self.current_task_id, started_at=self.started_at)
        except DB_OUTAGE_ERRORS as exc:
            if not self._beats_failing:  # log the change, not every beat of an outage
                logger.warning("Heartbeat failed (%s: %s); the lease lapses if this lasts %.0f s", type(exc).__name__, exc, settings.TASK_LEASE_SECONDS)
            self._beats_failing = True
            connection.close_if_unusable_or_obsolete()
        else:
            if self._beats_failing:
                logger.info("Heartbeat restored")
            self._beats_failing = False

    def _sweep(self) -> None:
        try:
            counts = leases_expire()
        except DB_OUTAGE_ERRORS as exc:
            logger.debug("Lease sweep skipped: %s", exc)
            connection.close_if_unusable_or_obsolete()
            return
        if any(counts.values()):
            logger.warning("Lease sweep: %(requeued)d task(s) requeued, %(failed)d failed", counts)

    def _abandon(self) -> None:
        """The grace period is over: give the task back and leave without finishing it. Exits
        from this thread because the task may be stuck where no exception can reach it."""
        task_id = self.current_task_id
        if task_id is not None:
            try:
                task_release(task_id=task_id, worker_id=self.worker_id)
            except DB_OUTAGE_ERRORS:
                logger.warning("Could not release task %s; its lease expires in %.0f s", task_id, settings.TASK_LEASE_SECONDS)
        try:
            worker_gone(worker_id=self.worker_id)
        except DB_OUTAGE_ERRORS:
            pass
        logging.shutdown()
        # _exit: the main thread is inside the task; its open transaction dies with the process.
        os._exit(0)

    def _stop_beating(self, beater: threading.Thread) -> None:
        self._abandon_at = None  # the task finished within its grace period: nothing to abandon
        self._stop.set()
        beater.join(timeout=5)
        try:
            if self.current_task_id is not None:  # claimed, then interrupted before it ran
                task_release(task_id=self.current_task_id, worker_id=self.worker_id)
            worker_gone(worker_id=self.worker_id)
        except DB_OUTAGE_ERRORS as exc:
            logger.warning("Could not deregister worker %s: %s", self.worker_id, exc)


class Command(DBWorkerCommand):
    help = "Run the database task worker with task leases (re-queues the tasks of dead workers)."

    def handle(self, *, verbosity, queue_name, interval, batch, backend_name, startup_delay, reload,
               max_tasks, worker_id, exclude_queues, **options) -> None:
        self.configure_logging(verbosity)
        if not logger.hasHandlers():
            logger.addHandler(logging.StreamHandler(self.stdout))
        logger.setLevel(logging.INFO if verbosity <= 1 else logging.DEBUG)
        if reload:
            # A reloader restart kills the task mid-run; leases would recover it, but a
            # worker should not do that to itself on every file save.
            logger.warning("run_worker does not auto-reload; restart it after code changes.")
        # Apps' tasks modules connect their task_finished receivers (a task failed by lease
        # expiry reaches them through this process).
        autodiscover_modules("tasks")
        queue_names = queue_name.split(",")
        excluded = exclude_queues.split(",") if exclude_queues else []
        worker = LeasedWorker(
            queue_names=queue_names, interval=interval, batch=batch, backend_name=backend_name,
            startup_delay=startup_delay, max_tasks=max_tasks, worker_id=worker_id, excluded_queue_names=excluded,
        )
        worker.configure_signals()
        worker.run()
