from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from tutorhub.core.scheduler import periodic

MIN_TASK_PRIORITY = -100  # django-tasks' lowest priority


def fair_priority(in_flight: int) -> int:
    """Queue priority for a user's next heavy task (extraction), given how many of theirs are
    already queued or running. The database worker takes the highest priority first, so a
    user who queued ten files gets the other users' first files in between: one user's pile
    of (possibly hostile) files cannot starve everyone else, and no extra worker or queue is
    needed. Each file's CPU is capped by the extraction sandbox, which bounds the wait."""
    return max(MIN_TASK_PRIORITY, -in_flight)


@task()
def document_process_task(document_id: str) -> str | None:
    """Extract, chunk, index, embed and summarise one document (failures are stored on it)."""
    from tutorhub.knowledge.services import document_process

    document = document_process(document_id=document_id)
    return document.processing_status if document else None


@periodic(every=timedelta(minutes=10))
@task()
def documents_requeue_stale_task() -> int:
    """Documents left 'processing' by a worker that died are queued again."""
    from tutorhub.knowledge.services import documents_requeue_stale

    return documents_requeue_stale()
