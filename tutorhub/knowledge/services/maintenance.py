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
from tutorhub.knowledge.models import Document
from tutorhub.knowledge.services.ingestion import _enqueue_processing, _require_manage

logger = logging.getLogger(__name__)


def _reprocessable(document: Document) -> bool:
    if document.processing_status in (Document.Status.COMPLETED, Document.Status.FAILED):
        return True
    stale = timezone.now() - timedelta(minutes=settings.DOCUMENT_PROCESSING_STALE_MINUTES)
    return document.updated_at < stale  # a worker died mid-document (or the queue lost it)


@transaction.atomic
def document_reprocess(*, user, document: Document) -> Document:
    """Queue the pipeline again. Raises 409 while a fresh run is in progress."""
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
    """Queue documents whose worker died (processing too long) or whose queue entry was lost."""
    stale = timezone.now() - timedelta(minutes=settings.DOCUMENT_PROCESSING_STALE_MINUTES)
    ids = list(
        Document.objects.filter(
            Q(processing_status=Document.Status.PROCESSING) | Q(processing_status=Document.Status.PENDING),
            updated_at__lt=stale,
        ).values_list("id", flat=True)[:100]
    )
    for document_id in ids:
        with transaction.atomic():
            Document.objects.filter(pk=document_id).update(
                processing_status=Document.Status.PENDING, updated_at=timezone.now()
            )
            _enqueue_processing(Document(id=document_id))
    return len(ids)
