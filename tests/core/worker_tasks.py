"""Tasks the process tests enqueue (imported by real worker processes from this package)."""

from __future__ import annotations

import os
import time

from django_tasks import task


@task()
def sleepy(marker: str, seconds: float) -> str:
    """Append "start <pid>" to `marker`, sleep, append "done <pid>": a task a test can kill."""
    with open(marker, "a") as handle:
        handle.write(f"start {os.getpid()}\n")
    time.sleep(seconds)
    with open(marker, "a") as handle:
        handle.write(f"done {os.getpid()}\n")
    return "slept"


@task()
def notify(user_id: int, title: str) -> int:
    """Raise a notification from inside the worker process (cross-process push test)."""
    from tutorhub.accounts.models import User
    from tutorhub.engagement.services import notification_create

    return notification_create(user=User.objects.get(pk=user_id), kind="system", title=title, message=title).pk
