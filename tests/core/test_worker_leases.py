"""Task leases: a task whose worker died runs again on another worker; SIGTERM hands a task
back; a task whose workers keep dying fails with a reason; database errors don't kill the loop."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.core.processes import wait_for
from tutorhub.core.models import WorkerHeartbeat
from tutorhub.core.task_leases import leases_expire, queue_status, task_is_active, task_release

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
FAST_LEASES = {"TASK_LEASE_SECONDS": 3, "TASK_HEARTBEAT_SECONDS": 0.5, "TASK_LEASE_SWEEP_SECONDS": 0.5}
WORKER = ("run_worker", "--no-startup-delay", "--interval", "0.2")


def _enqueue(site, marker, seconds: float) -> str:
    out = site.python(
        "from tests.core.worker_tasks import sleepy; "
        f"print(sleepy.enqueue({str(marker)!r}, {seconds}).id)"
    )
    return out.strip().splitlines()[-1]


def _task_row(site, task_id: str):
    rows = site.query(
        "SELECT status, worker_ids, exception_class_path FROM django_tasks_database_dbtaskresult WHERE id = ?",
        (uuid.UUID(task_id).hex,),
    )
    return (rows[0][0], json.loads(rows[0][1]), rows[0][2]) if rows else None


def _busy_worker(site, seconds: float):
    """A worker that has started a sleepy task: (the worker process, the marker file, task id)."""
    marker = site.data_dir / "marker.txt"
    worker = site.start(*WORKER, log="worker1.log")
    task_id = _enqueue(site, marker, seconds)
    assert wait_for(lambda: _starts(marker), 30), site.log("worker1.log")
    return worker, marker, task_id


def _starts(marker) -> list[str]:
    return [line.split()[1] for line in marker.read_text().splitlines() if line.startswith("start")] if marker.exists() else []


def test_a_task_whose_worker_was_killed_runs_again_on_another_worker_within_60s(process_site):
    site = process_site(**FAST_LEASES)
    first, marker, task_id = _busy_worker(site, 3)
    os.kill(first.pid, signal.SIGKILL)  # kill -9 mid-task: no chance to clean up
    first.wait(5)
    killed_at = time.monotonic()
    assert _task_row(site, task_id)[0] == "RUNNING"  # what django-tasks-db alone leaves behind

    site.start(*WORKER, log="worker2.log")
    finished = wait_for(lambda: _task_row(site, task_id)[0] == "SUCCESSFUL", 60, 0.2)
    recovered_in = time.monotonic() - killed_at
    assert finished, site.log("worker2.log")
    assert recovered_in < 60
    status, worker_ids, _ = _task_row(site, task_id)
    assert len(worker_ids) == 2 and worker_ids[0] != worker_ids[1]  # two attempts, two workers
    starts = _starts(marker)
    assert len(starts) == 2 and starts[0] == str(first.pid)
    assert "requeued" in site.log("worker2.log")


def test_sigterm_hands_the_running_task_back_and_exits_within_seconds(process_site):
    site = process_site(WORKER_SHUTDOWN_GRACE_SECONDS=1, **FAST_LEASES)
    worker, _, task_id = _busy_worker(site, 60)
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    worker.wait(10)
    assert time.monotonic() - started < 5
    status, worker_ids, _ = _task_row(site, task_id)
    assert status == "READY" and worker_ids == []  # released at once, the attempt not counted
    assert site.query("SELECT count(*) FROM core_workerheartbeat") == [(0,)]
    assert "handing task" in site.log("worker1.log")


def test_sigterm_lets_a_short_task_finish(process_site):
    site = process_site(WORKER_SHUTDOWN_GRACE_SECONDS=5, **FAST_LEASES)
    worker, _, task_id = _busy_worker(site, 1)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(10) == 0
    assert _task_row(site, task_id)[0] == "SUCCESSFUL"


# --- the lease rules, in process -------------------------------------------------------------
def _running(worker_ids: list[str], started_ago: float) -> DBTaskResult:
    return DBTaskResult.objects.create(
        status="RUNNING", args_kwargs={"args": ["/dev/null", 0], "kwargs": {}}, task_path="tests.core.worker_tasks.sleepy",
        backend_name="default", worker_ids=worker_ids, started_at=timezone.now() - timedelta(seconds=started_ago),
        run_after=timezone.now(),
    )


def _beat(worker_id: str, task, ago: float = 0) -> None:
    at = timezone.now() - timedelta(seconds=ago)
    WorkerHeartbeat.objects.create(worker_id=worker_id, started_at=at, heartbeat_at=at, current_task_id=task.pk if task else None)


@pytest.fixture
def db_queue(settings, db):
    settings.TASKS = DB_TASKS
    settings.TASK_LEASE_SECONDS = 30
    settings.TASK_MAX_ATTEMPTS = 3


def test_only_expired_leases_are_requeued(db_queue):
    alive = _running(["w1"], 120)
    _beat("w1", alive, ago=5)
    dead = _running(["w2"], 120)
    _beat("w2", dead, ago=45)
    orphan = _running(["w3"], 120)  # its worker never beat (or its row is gone)
    just_claimed = _running(["w4"], 1)
    assert leases_expire() == {"requeued": 2, "failed": 0}
    statuses = dict(DBTaskResult.objects.values_list("pk", "status"))
    assert statuses[alive.pk] == "RUNNING" and statuses[just_claimed.pk] == "RUNNING"
    assert statuses[dead.pk] == "READY" and statuses[orphan.pk] == "READY"
    assert task_is_active(alive.pk) is True and task_is_active(dead.pk) is True  # queued again


def test_a_task_whose_workers_keep_dying_fails_with_a_reason(db_queue):
    from django_tasks.signals import task_finished

    seen = []

    def receiver(sender, task_result, **kwargs):
        seen.append((task_result.id, task_result.status))

    task_finished.connect(receiver)
    try:
        doomed = _running(["w1", "w2", "w3"], 120)
        assert leases_expire() == {"requeued": 0, "failed": 1}
    finally:
        task_finished.disconnect(receiver)
    doomed.refresh_from_db()
    assert doomed.status == "FAILED"
    assert doomed.exception_class_path == "tutorhub.core.task_leases.TaskLeaseExpired"
    assert "Gave up after 3 attempts" in doomed.traceback
    assert seen == [(str(doomed.pk), "FAILED")]
    assert task_is_active(doomed.pk) is False


def test_release_only_touches_the_workers_own_task(db_queue):
    mine = _running(["old", "me"], 5)
    _beat("me", mine)
    assert task_release(task_id=mine.pk, worker_id="other") is False
    assert task_release(task_id=mine.pk, worker_id="me") is True
    mine.refresh_from_db()
    assert mine.status == "READY" and mine.worker_ids == ["old"] and mine.started_at is None
    assert WorkerHeartbeat.objects.get(pk="me").current_task_id is None


def test_queue_status_reports_heartbeat_and_oldest_queued_task(db_queue):
    assert queue_status() == {"worker_heartbeat_age_seconds": None, "oldest_queued_task_age_seconds": None}
    _beat("w1", None, ago=7)
    DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}}, task_path="x.y", backend_name="default", run_after=timezone.now()
    )
    DBTaskResult.objects.filter().update(enqueued_at=timezone.now() - timedelta(seconds=40))
    status = queue_status()
    assert 6 <= status["worker_heartbeat_age_seconds"] <= 9
    assert 39 <= status["oldest_queued_task_age_seconds"] <= 42


def test_the_worker_loop_survives_database_errors(db_queue, monkeypatch):
    from tutorhub.core.management.commands import run_worker

    worker = run_worker.LeasedWorker(
        queue_names=["default"], interval=0, batch=False, backend_name="default", startup_delay=False,
        max_tasks=None, worker_id="w-test", excluded_queue_names=[],
    )
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OperationalError("database is locked" if calls["n"] == 1 else "server closed the connection unexpectedly")
        worker.running = False  # third round: healthy; stop the loop
        return False

    sleeps = []
    monkeypatch.setattr(worker, "_claim_and_run", flaky)
    monkeypatch.setattr(worker, "_beat_loop", lambda: None)
    monkeypatch.setattr(run_worker.time, "sleep", sleeps.append)
    worker.run()
    assert calls["n"] == 3
    assert sleeps == [1.0, 2.0]  # backoff doubling, and no exit


def test_worker_and_scheduler_outlive_a_locked_database(process_site):
    """SQLite's outage: another process holds the write lock for longer than busy_timeout."""
    import sqlite3

    # busy_timeout stated (the default is 20 s): the lock below outlasts it twice over.
    site = process_site(**FAST_LEASES, DB_SQLITE_BUSY_TIMEOUT_MS=5000)
    worker = site.start(*WORKER, log="worker1.log")
    scheduler = site.start("run_scheduler", "--interval", "1", log="scheduler.log")
    assert wait_for(lambda: site.query("SELECT count(*) FROM core_workerheartbeat")[0][0], 60, 0.2)
    assert wait_for(lambda: "scheduler:" in site.log("scheduler.log"), 60, 0.2)
    lock = sqlite3.connect(site.db, timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    # The scheduler may just have enqueued a job: it must go and try again while the lock holds.
    lock.execute("DELETE FROM core_scheduledjobrun")
    locked_at = timezone.now()
    time.sleep(14)  # > busy_timeout (5 s) twice over: claims, beats and scheduler rounds fail
    # Read on another connection (the lock holder's snapshot would hide later commits).
    last_beat = site.query("SELECT max(heartbeat_at) FROM core_workerheartbeat")[0][0]
    lock.execute("ROLLBACK")
    lock.close()
    released = timezone.now()
    assert worker.poll() is None and scheduler.poll() is None  # neither exited
    # The worker beats again once the lock is gone (then the queue is calm enough to enqueue).
    assert wait_for(lambda: site.query("SELECT max(heartbeat_at) FROM core_workerheartbeat")[0][0] > released.strftime("%Y-%m-%d %H:%M:%S.%f"), 60, 0.2)

    marker = site.data_dir / "marker.txt"
    task_id = _enqueue(site, marker, 0)
    assert wait_for(lambda: _task_row(site, task_id)[0] == "SUCCESSFUL", 60, 0.2), site.log("worker1.log")
    # The outage was real: no heartbeat got through while the lock was held.
    assert last_beat < (locked_at + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
