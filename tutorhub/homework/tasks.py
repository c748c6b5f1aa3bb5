"""Background work for homework. Tasks take ids and call one service."""

from __future__ import annotations

from django_tasks import task

from tutorhub.homework import services


@task()
def homework_submission_check_task(submission_id: int) -> str:
    """Check one submission: feedback on written work, transcription and scoring of a recording."""
    return services.homework_submission_process(submission_id=submission_id)
