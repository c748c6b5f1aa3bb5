"""runall supervises its children; the scheduler outlives database errors."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import InterfaceError, OperationalError

from tests.core.processes import free_port, http_ok, leftovers, runall_children, wait_for


@pytest.fixture
def runall(process_site):
    site = process_site(TASK_HEARTBEAT_SECONDS=0.5)
    port = free_port()
    proc = site.start("runall", "--port", str(port), log="runall.log")
    assert wait_for(lambda: http_ok(port) and len(runall_children(proc.pid)) == 3, 90, 0.3), site.log("runall.log")
    return site, proc, port


def test_sigterm_stops_runall_and_every_child_within_10s(runall):
    site, proc, port = runall
    children = runall_children(proc.pid)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(15)
    took = time.monotonic() - started
    assert took < 10, site.log("runall.log")
    assert proc.returncode == 0
    assert wait_for(lambda: not leftovers(site.data_dir), 2), leftovers(site.data_dir)
    for pid in children.values():
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]


def test_a_crashed_child_is_restarted_and_the_restart_is_logged(runall):
    site, proc, port = runall
    old = runall_children(proc.pid)
    os.kill(old["worker"], signal.SIGKILL)
    restarted = wait_for(lambda: (runall_children(proc.pid).get("worker") or old["worker"]) != old["worker"], 20, 0.2)
    assert restarted, site.log("runall.log")
    log = site.log("runall.log")
    assert "runall: worker exited with code -9" in log and "runall: restarting worker (restart 1)" in log
    assert runall_children(proc.pid)["server"] == old["server"]  # the others were left alone
    assert http_ok(port)


def test_children_die_with_a_killed_runall(runall):
    site, proc, port = runall
    os.kill(proc.pid, signal.SIGKILL)  # no chance to forward anything: PR_SET_PDEATHSIG does it
    proc.wait(5)
    assert wait_for(lambda: not leftovers(site.data_dir), 15, 0.2), leftovers(site.data_dir)


class _Stop(Exception):
    pass


def test_the_scheduler_waits_out_a_database_outage(db, monkeypatch):
    from tutorhub.core.management.commands import run_scheduler

    outcomes = [OperationalError("server closed the connection unexpectedly"), InterfaceError("connection already closed"),
                OperationalError("database is locked"), ["reports"]]
    calls = []

    def run_due_jobs():
        calls.append(1)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if not outcomes:
            raise _Stop  # the healthy round slept its normal interval: the loop is still alive

    monkeypatch.setattr(run_scheduler, "run_due_jobs", run_due_jobs)
    monkeypatch.setattr(run_scheduler.time, "sleep", sleep)
    with pytest.raises(_Stop):
        call_command("run_scheduler", "--interval", "30")
    assert len(calls) == 4
    assert sleeps == [1.0, 2.0, 4.0, 30.0]


def test_a_scheduled_run_is_recorded_only_when_its_task_was_queued(db, monkeypatch):
    from datetime import timedelta

    from tutorhub.core import scheduler
    from tutorhub.core.models import ScheduledJobRun

    class Task:
        def enqueue(self):
            raise OperationalError("database is locked")

    monkeypatch.setattr(scheduler, "registered_jobs", lambda: {"j": scheduler.PeriodicJob("j", timedelta(minutes=1), Task())})
    with pytest.raises(OperationalError):
        scheduler.run_due_jobs()
    assert not ScheduledJobRun.objects.filter(name="j").exists()  # so the next round tries again
