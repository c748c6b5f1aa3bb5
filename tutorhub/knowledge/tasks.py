from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from tutorhub.core.scheduler import periodic


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
