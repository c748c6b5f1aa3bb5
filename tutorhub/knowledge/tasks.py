from __future__ import annotations

from datetime import timedelta

from django.dispatch import receiver
from django_tasks import task
from django_tasks.base import TaskResultStatus
from django_tasks.signals import task_finished

from tutorhub.core.scheduler import periodic

MIN_TASK_PRIORITY = -100  # django-tasks' lowest priority


def fair_priority(in_flight: int) -> int:
    """Queue priority for a user's next heavy task (extraction), given how many of theirs are
    already queued or running. The database worker takes the highest priority first, so a
    user who queued ten files gets the other users' first files in between: one user's pile
    of (possibly hostile) files cannot starve everyone else, and no extra worker or queue is
    needed. Each file's CPU is capped by the extraction sandbox, which bounds the wait."""
    return max(MIN_TASK_PRIORITY, -in_flight)


@task(takes_context=True)
def document_process_task(context, document_id: str) -> str | None:
    """Extract, chunk, index, embed and summarise one document (failures are stored on it).
    Its own task id tells a rerun of this task (a dead worker's lease expired) from a rival."""
    from tutorhub.knowledge.services import document_process

    document = document_process(document_id=document_id, task_id=context.task_result.id)
    return document.processing_status if document else None


@receiver(task_finished)
def _document_task_failed(sender, task_result, **kwargs) -> None:
    """document_process_task stores its own failures; it fails as a task only when the lease
    sweep gives up on it (its workers kept dying). The document must not stay 'processing'."""
    if task_result.status != TaskResultStatus.FAILED or task_result.task.func is not document_process_task.func:
        return
    from tutorhub.knowledge.services.maintenance import document_processing_abandoned

    document_processing_abandoned(document_id=task_result.args[0], task_id=task_result.id)


@periodic(every=timedelta(minutes=1))
@task()
def documents_requeue_stale_task() -> int:
    """Documents left pending/processing with no live task are queued again."""
    from tutorhub.knowledge.services import documents_requeue_stale

    return documents_requeue_stale()


@periodic(every=timedelta(minutes=1))
@task(priority=MIN_TASK_PRIORITY)
def embeddings_backfill_task() -> int:
    """Embed documents indexed lexically only, for at most EMBEDDING_BACKFILL_SECONDS per run (the
    next run continues), at the lowest priority so queued uploads are processed first. The
    scheduler enqueues it on its first start, so an upgraded install starts embedding at once."""
    from django.conf import settings

    from tutorhub.knowledge.services import embeddings_backfill

    return embeddings_backfill(seconds=settings.EMBEDDING_BACKFILL_SECONDS).chunks_embedded
