"""Maintenance: reprocess, delete, and requeue documents a dead worker left behind."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tutorhub.ai import ProviderError, embeddings, vector_stores
from tutorhub.core.exceptions import Conflict, ServiceUnavailable
from tutorhub.core.querysets import related_count
from tutorhub.core.task_leases import tasks_active
from tutorhub.knowledge.models import Chunk, Document
from tutorhub.knowledge.services.ingestion import _enqueue_processing, _require_manage
from tutorhub.knowledge.services.processing import FINGERPRINT_KEY, _fail, embed_chunks, embedding_fingerprint

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


# --- embedding backfill ---------------------------------------------------------------------
# Documents processed while no embedding model was usable (before the local model became the
# default, or while it failed to load) have lexical rows only; documents embedded by another
# model or setting, or before the heading path was embedded (no or another fingerprint in
# processing_metadata), have stale vectors. The backfill embeds their existing chunks in place -
# nobody re-uploads - and reports progress on each document. The fingerprint lives on the
# document, not in the vector store's metadata: the backfill finds stale documents with one
# database query instead of reading every vector's metadata, and a document is embedded (and
# re-embedded) as a whole.
BACKFILL_KEY = "embedding_backfill"  # processing_metadata entry: the API's view of the progress
BACKFILL_BATCH = 64  # chunks per embedding call and per saved checkpoint


@dataclass
class BackfillResult:
    documents_completed: int = 0
    chunks_embedded: int = 0
    chunks_remaining: int = 0


def embeddings_backfill_pending(fingerprint: str | None = None):
    """Completed documents with chunks but no vectors, and, given the current `fingerprint`,
    those whose vectors have another one; annotated with their chunk count. Lexical-only
    documents sort first (dense search does not see them at all; stale vectors still work)."""
    needs = Q(embeddings_available=False)
    if fingerprint is not None:
        needs |= ~Q(processing_metadata__has_key=FINGERPRINT_KEY) | ~Q(**{f"processing_metadata__{FINGERPRINT_KEY}": fingerprint})
    return (
        Document.objects.filter(needs, processing_status=Document.Status.COMPLETED)
        .annotate(chunk_total=related_count(Chunk, "document"))
        .filter(chunk_total__gt=0)
    )


def embeddings_backfill(*, seconds: float | None = None, on_progress=None) -> BackfillResult:
    """Embed lexical-only documents, then re-embed those with stale vectors, oldest first,
    BACKFILL_BATCH chunks at a time.

    Resumable and idempotent: after each batch the document's next chunk position is saved in
    processing_metadata (with the percentage done), and vectors are keyed by chunk id, so a run
    that stops anywhere (deadline, crash, provider error) loses at most one batch, which the
    next run embeds again. A re-embedded document keeps its old vectors until each is replaced,
    so dense retrieval finds it throughout. A document that is reprocessed meanwhile (new
    processed_at) is left to its own pipeline. `seconds` bounds one run (the periodic task; the
    next run continues); `on_progress(chunks embedded so far)` is called after each batch (the
    management command).
    """
    result = BackfillResult()
    fingerprint = None
    try:
        if embeddings.configured():
            fingerprint = embedding_fingerprint()
    except ProviderError as exc:
        # A model that cannot load turns the backend unavailable (it logs that once itself).
        if embeddings.configured():
            logger.warning("Embedding backfill cannot start: %s", exc)
    if fingerprint is None:  # nothing to embed with: only report what is waiting
        result.chunks_remaining = sum(embeddings_backfill_pending().values_list("chunk_total", flat=True))
        return result
    pending = list(
        embeddings_backfill_pending(fingerprint)
        .order_by("embeddings_available", "created_at", "id")
        .only("id", "owner_id", "course_id", "processed_at", "processing_metadata", "embeddings_available")
    )
    states = [_backfill_state(document, fingerprint) for document in pending]
    result.chunks_remaining = sum(d.chunk_total - state["chunks_embedded"] for d, state in zip(pending, states, strict=True))

    deadline = time.monotonic() + seconds if seconds is not None else None
    for document, state in zip(pending, states, strict=True):
        stamp = state["processed_at"]
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                return result
            chunks = list(
                Chunk.objects.filter(document_id=document.pk, position__gte=state["next_position"])
                .order_by("position")
                .only("id", "position", "text", "heading_path", "page", "section")[:BACKFILL_BATCH]
            )
            try:
                if chunks:
                    embed_chunks(document, chunks)
            except ProviderError as exc:
                # The next periodic run retries; a model that cannot load turns the backend
                # unavailable (it logs that once itself), after which runs return at once.
                if embeddings.configured():
                    logger.warning("Embedding backfill stopped at document %s: %s", document.pk, exc)
                return result
            done = state["chunks_embedded"] + len(chunks)
            state = {
                **state,
                "next_position": chunks[-1].position + 1 if chunks else state["next_position"],
                "chunks_embedded": done,
                "chunk_count": document.chunk_total,
                "percentage": min(100, int(100 * done / document.chunk_total)),
            }
            finished = len(chunks) < BACKFILL_BATCH
            if not _backfill_checkpoint(document, stamp, state, finished=finished):
                break  # reprocessed, deleted or finished by another run meanwhile: not ours now
            result.chunks_embedded += len(chunks)
            result.chunks_remaining -= len(chunks)
            if on_progress is not None:
                on_progress(result.chunks_embedded)
            if finished:
                result.documents_completed += 1
                break
    result.chunks_remaining = max(0, result.chunks_remaining)
    return result


def _backfill_state(document: Document, fingerprint: str) -> dict:
    """Where the backfill resumes on `document`: its saved checkpoint, unless it is of an older
    run of the pipeline (another processed_at) or of a re-embed for another fingerprint (a
    checkpoint from before fingerprints counts as this one's: it can only be a lexical-only
    document's, which any model's vectors complete); then at the first chunk."""
    state = document.processing_metadata.get(BACKFILL_KEY) or {}
    stamp = document.processed_at.isoformat() if document.processed_at else ""
    if state.get("processed_at") != stamp or state.get("fingerprint", fingerprint) != fingerprint:
        return {"processed_at": stamp, "fingerprint": fingerprint, "next_position": 0, "chunks_embedded": 0}
    return {**state, "fingerprint": fingerprint}


def _backfill_checkpoint(document: Document, stamp: str, state: dict, *, finished: bool) -> bool:
    """Save the progress (and, when done, embeddings_available and the fingerprint) if the
    document is still the completed one the backfill read, still without vectors or still with
    vectors of another fingerprint; the row lock orders this with a reprocess."""
    with transaction.atomic():
        current = (
            Document.objects.select_for_update()
            .filter(pk=document.pk, processing_status=Document.Status.COMPLETED,
                    embeddings_available=document.embeddings_available)
            .only("processed_at", "processing_metadata")
            .first()
        )
        if current is None or (current.processed_at.isoformat() if current.processed_at else "") != stamp:
            return False
        if current.embeddings_available and current.processing_metadata.get(FINGERPRINT_KEY) == state["fingerprint"]:
            return False
        metadata = {**current.processing_metadata, BACKFILL_KEY: state}
        if finished:
            metadata.pop("embedding_error", None)  # the ingestion-time failure is repaired
            metadata["embeddings_created"] = True
            metadata[FINGERPRINT_KEY] = state["fingerprint"]
        Document.objects.filter(pk=document.pk).update(
            processing_metadata=metadata, embeddings_available=document.embeddings_available or finished,
            updated_at=timezone.now(),
        )
    return True
