"""Maintenance: reprocess, delete, and requeue documents a dead worker left behind."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tutorhub.ai import ProviderError, embeddings, vector_stores
from tutorhub.core.exceptions import Conflict, ServiceUnavailable
from tutorhub.core.task_leases import tasks_active
from tutorhub.knowledge.models import Document
from tutorhub.knowledge.services.ingestion import _enqueue_processing, _require_manage
from tutorhub.knowledge.services.processing import _fail

logger = logging.getLogger(__name__)

# A document this fresh may still have its enqueue on the way (transaction.on_commit).
REQUEUE_AFTER_SECONDS = 120


def documents_running(documents) -> set:
    """Pks of the documents (pending or processing) whose processing task is still alive:
    queued, or running on a worker whose lease is fresh (tutorhub.core.task_leases). A task
    backend without leases falls back to the document's last progress update."""
    documents = list(documents)
    active = tasks_active(d.processing_task_id for d in documents)
    if active is None:
        stale = timezone.now() - timedelta(minutes=settings.DOCUMENT_PROCESSING_STALE_MINUTES)
        return {d.pk for d in documents if d.updated_at >= stale}
    return {d.pk for d in documents if d.processing_task_id in active}


def _reprocessable(document: Document) -> bool:
    if document.processing_status in (Document.Status.COMPLETED, Document.Status.FAILED):
        return True
    return document.pk not in documents_running([document])  # its worker died (or the queue lost it)


@transaction.atomic
def document_reprocess(*, user, document: Document) -> Document:
    """Queue the pipeline again. Raises 409 while a live run (queued or leased) holds the document."""
    _require_manage(user, document)
    document = Document.objects.select_for_update().get(pk=document.pk)
    if not _reprocessable(document):
        raise Conflict("The document is already being processed.")
    document.processing_status = Document.Status.PENDING
    document.progress_percentage = 0
    document.processing_error = None
    document.save(update_fields=["processing_status", "progress_percentage", "processing_error", "updated_at"])
    _enqueue_processing(document)
    return document


def document_delete(*, user, document: Document) -> None:
    """Delete a document with its chunks (and their full-text rows), vectors and file."""
    _require_manage(user, document)
    if document.embeddings_available or embeddings.configured():
        try:
            vector_stores["default"].delete(str(document.id))
        except ProviderError as exc:
            raise ServiceUnavailable("The vector store is unavailable; the document was not deleted.") from exc
    file_name, storage = document.file.name, document.file.storage
    with transaction.atomic():
        document.delete()
        if file_name:
            transaction.on_commit(lambda: storage.delete(file_name))


def documents_requeue_stale() -> int:
    """Queue documents left pending/processing with no live task: the queue lost the task (its
    enqueue failed after the row committed) or a backend without leases lost its worker.
    Tasks of dead database-queue workers are requeued by the lease sweep itself."""
    settled = timezone.now() - timedelta(seconds=REQUEUE_AFTER_SECONDS)
    candidates = list(
        Document.objects.filter(
            Q(processing_status=Document.Status.PROCESSING) | Q(processing_status=Document.Status.PENDING),
            updated_at__lt=settled,
        ).only("id", "processing_task_id", "updated_at")[:100]
    )
    running = documents_running(candidates)
    ids = [d.pk for d in candidates if d.pk not in running]
    for document_id in ids:
        with transaction.atomic():
            Document.objects.filter(pk=document_id).update(
                processing_status=Document.Status.PENDING, updated_at=timezone.now()
            )
            _enqueue_processing(Document(id=document_id))
    return len(ids)


def document_processing_abandoned(*, document_id, task_id) -> None:
    """The task processing a document failed outside the pipeline (its workers kept dying:
    task_leases gave up on it). Fail the document, if that task still owns it, so it does not
    stay 'processing' and the user can reprocess."""
    document = Document.objects.filter(
        pk=document_id, processing_task_id=str(task_id),
        processing_status__in=[Document.Status.PENDING, Document.Status.PROCESSING],
    ).first()
    if document is not None:
        _fail(document, "Processing was interrupted repeatedly (the worker stopped); try reprocessing.")
