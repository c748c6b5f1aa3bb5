"""Periodic housekeeping that belongs to no single app."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from tutorhub.core.scheduler import periodic


@periodic(every=timedelta(hours=1))
@task()
def orphan_files_delete_task() -> int:
    """Files under MEDIA_ROOT that no row refers to (a process killed between storing a file and
    committing its row) are deleted once they are an hour old."""
    from tutorhub.core.files import orphan_files_delete

    return orphan_files_delete(older_than=timedelta(hours=1))
