"""Knowledge-base use cases: ingest (upload, URL, pasted text), process, reprocess, delete.

Processing pipeline (`document_process`, run by the `document_process_task` worker task):
fetch (URL documents) → extract + clean → chunk → lexical index (the database maintains it
as chunks are written) → embeddings + vector store (when an embedding model is configured)
→ summary / topics / key concepts (through the LLM interface) → completed. Each stage
moves `progress_percentage`; any failure stores a readable `processing_error`, fires the
`document.processing.failed` webhook and leaves the document reprocessable.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import get_valid_filename

from tutorhub.ai import ProviderError, embeddings, llm, usage_scope, vector_stores
from tutorhub.ai.base import VectorItem
from tutorhub.billing.services import quota_check, usage_record
from tutorhub.core.exceptions import Conflict, ServiceError, ServiceUnavailable
from tutorhub.core.permissions import is_admin
from tutorhub.knowledge.chunking import chunk_blocks
from tutorhub.knowledge.extraction import KINDS, Extracted, ExtractionError, extract, sniff
from tutorhub.knowledge.fetch import FetchError, resolve_checked, safe_request
from tutorhub.knowledge.models import Chunk, Document

logger = logging.getLogger(__name__)

EMBED_BATCH = 64
ANALYSIS_CHARS = 200_000  # what the summariser reads; enough for a summary, bounded for cost
ANALYSIS_PROMPT = (
    "You analyse study material. Reply with a JSON object with keys: summary (3-5 sentences), "
    "topics (up to 8 short lowercase topics) and key_concepts (up to 8 concepts in snake_case)."
)


# --- permissions -------------------------------------------------------------------------------
def _can_add_to_course(user, course) -> bool:
    if course is None or is_admin(user) or course.owner_id == user.pk:
        return True
    return course.groups.filter(teacher=user).exists()


def _can_manage(user, document: Document) -> bool:
    if is_admin(user) or document.owner_id == user.pk:
        return True
    return document.course_id is not None and document.course.owner_id == user.pk


def _require_manage(user, document: Document) -> None:
    if not _can_manage(user, document):
        raise ServiceError(
            "Only the document's owner or the course owner can change it.",
            error_code="PERMISSION_DENIED",
            status_code=403,
        )


# --- ingestion ---------------------------------------------------------------------------------
def _enqueue_processing(document: Document) -> None:
    """Queue processing once the row is committed (the worker must see it)."""
    from tutorhub.knowledge.tasks import document_process_task

    document_id = str(document.id)

    def enqueue() -> None:
        result = document_process_task.enqueue(document_id)
        Document.objects.filter(pk=document_id).update(processing_task_id=str(result.id)[:64])

    transaction.on_commit(enqueue)


def _display_filename(filename: str) -> str:
    base = os.path.basename((filename or "").replace("\\", "/"))
    try:
        return get_valid_filename(base)[:255] if base else ""
    except Exception:  # get_valid_filename refuses names like ".." - they are only for display anyway
        return ""


@transaction.atomic
def document_ingest_file(
    *,
    user,
    data: bytes,
    filename: str = "",
    name: str = "",
    description: str = "",
    course=None,
    section_id=None,
    source_url: str = "",
    background: bool = True,
) -> Document:
    """Store a file's bytes as a Document and queue its processing (background=False: the
    caller runs `document_process` itself). The type is sniffed from the content. Raises
    ServiceError (413 FILE_TOO_LARGE, 415 UNSUPPORTED_FILE_TYPE, 403, QUOTA_EXCEEDED).
    Also used by other apps (lesson resources) to index files."""
    if not _can_add_to_course(user, course):
        raise ServiceError(
            "Only the course owner or its teachers can add documents to this course.",
            error_code="PERMISSION_DENIED",
            status_code=403,
        )
    limit = settings.DOCUMENT_UPLOAD_MAX_SIZE
    if len(data) > limit:
        raise ServiceError(
            f"The file is larger than the {limit // (1024 * 1024)} MB limit.", error_code="FILE_TOO_LARGE", status_code=413
        )
    if not data:
        raise ServiceError("The file is empty.", error_code="VALIDATION_ERROR", status_code=400)
    try:
        kind = sniff(data, filename)
    except ExtractionError as exc:
        raise ServiceError(str(exc), error_code="UNSUPPORTED_FILE_TYPE", status_code=415) from None
    quota_check(user=user, kind="documents", amount=1)
    quota_check(user=user, kind="storage_bytes", amount=len(data))
    display = _display_filename(filename)
    document = Document(
        owner=user,
        course=course,
        section_id=section_id,
        name=(name or os.path.splitext(display)[0] or "Untitled document")[:255],
        description=description,
        document_type=kind,
        content_type=KINDS[kind],
        original_filename=display,
        source_url=source_url,
        file_size_bytes=len(data),
        content_hash=hashlib.sha256(data).hexdigest(),
    )
    document.file.save("upload", ContentFile(data), save=False)  # name comes from document_upload_to
    document.save()
    usage_record(user=user, kind="storage_bytes", amount=len(data), feature="ingestion", metadata={"document_id": str(document.id)})
    if background:
        _enqueue_processing(document)
    return document


def document_upload(*, user, course, file, name: str = "", description: str = "", section_id=None) -> Document:
    """Seed 001 upload: read the uploaded file (bounded) and ingest it."""
    limit = settings.DOCUMENT_UPLOAD_MAX_SIZE
    if getattr(file, "size", 0) and file.size > limit:
        raise ServiceError(
            f"The file is larger than the {limit // (1024 * 1024)} MB limit.", error_code="FILE_TOO_LARGE", status_code=413
        )
    data = file.read(limit + 1)
    return document_ingest_file(
        user=user, data=data, filename=getattr(file, "name", ""), name=name, description=description,
        course=course, section_id=section_id,
    )


@transaction.atomic
def document_upload_url(*, user, course, url: str, name: str = "", description: str = "", section_id=None) -> Document:
    """Register a web page or PDF by URL; the worker downloads it (SSRF-checked at every hop).
    The URL is checked here too, so an obviously refused address fails at once (400)."""
    if not _can_add_to_course(user, course):
        raise ServiceError(
            "Only the course owner or its teachers can add documents to this course.",
            error_code="PERMISSION_DENIED",
            status_code=403,
        )
    try:
        resolve_checked(url, allow_private=settings.INGEST_URL_ALLOW_PRIVATE)
    except FetchError as exc:
        raise ServiceError(str(exc), error_code="URL_NOT_ALLOWED", status_code=400) from None
    quota_check(user=user, kind="documents", amount=1)
    document = Document.objects.create(
        owner=user,
        course=course,
        section_id=section_id,
        name=(name or url)[:255],
        description=description,
        source_url=url,
    )
    _enqueue_processing(document)
    return document


def resource_add(*, user, title: str, content: str, course=None) -> Document:
    """Seed 000: pasted text, processed through the same pipeline. Short text is indexed before
    returning (the seed's reply says "ingested and indexed"); the work is bounded by the size cap."""
    document = document_ingest_file(
        user=user, data=content.encode("utf-8"), filename="resource.txt", name=title, course=course, background=False
    )
    return document_process(document_id=document.id) or document


# --- processing --------------------------------------------------------------------------------
def _progress(document: Document, percentage: int, stage: str, **metadata) -> None:
    document.progress_percentage = percentage
    document.processing_metadata = {**document.processing_metadata, "stage": stage, **metadata}
    Document.objects.filter(pk=document.pk).update(
        progress_percentage=percentage, processing_metadata=document.processing_metadata, updated_at=timezone.now()
    )


def _claim(document_id) -> Document | None:
    """Mark the document as processing (unless another worker holds it fresh)."""
    with transaction.atomic():
        document = Document.objects.select_for_update().filter(pk=document_id).first()
        if document is None:
            return None
        stale = timezone.now() - timedelta(minutes=settings.DOCUMENT_PROCESSING_STALE_MINUTES)
        if document.processing_status == Document.Status.PROCESSING and document.updated_at > stale:
            logger.info("Document %s is already being processed", document_id)
            return None
        document.processing_status = Document.Status.PROCESSING
        document.progress_percentage = 5
        document.processing_error = None
        document.processing_started_at = timezone.now()
        document.attempts += 1
        document.processing_metadata = {"stage": "started", "attempt": document.attempts}
        document.save()
        return document


def _fetch_source(document: Document) -> None:
    try:
        fetched = safe_request(
            "GET",
            document.source_url,
            allow_private=settings.INGEST_URL_ALLOW_PRIVATE,
            timeout=settings.INGEST_URL_TIMEOUT_SECONDS,
            max_bytes=settings.INGEST_URL_MAX_BYTES,
            max_redirects=settings.INGEST_URL_MAX_REDIRECTS,
        )
    except FetchError as exc:
        raise ExtractionError(str(exc)) from None
    if fetched.status_code >= 400:
        raise ExtractionError(f"The URL answered HTTP {fetched.status_code}.")
    if not fetched.content:
        raise ExtractionError("The URL returned no content.")
    document.document_type = sniff(fetched.content, os.path.basename(fetched.url.split("?")[0]))
    document.content_type = KINDS[document.document_type]
    document.file_size_bytes = len(fetched.content)
    document.content_hash = hashlib.sha256(fetched.content).hexdigest()
    document.file.save("download", ContentFile(fetched.content), save=False)
    document.processing_metadata["final_url"] = fetched.url
    document.save()
    usage_record(
        user=document.owner, kind="storage_bytes", amount=len(fetched.content), feature="ingestion",
        metadata={"document_id": str(document.id)},
    )


def _outline(extracted: Extracted) -> tuple[str, list[dict]]:
    """The extracted text and its sections as offsets into it."""
    parts, outline, offset = [], [], 0
    for block in extracted.blocks:
        if parts:
            offset += 2
        title = block.section or (f"Page {block.page}" if block.page else None)
        if outline and outline[-1]["title"] == title and outline[-1]["page"] == block.page:
            outline[-1]["end"] = offset + len(block.text)
        else:
            outline.append({"title": title, "page": block.page, "start": offset, "end": offset + len(block.text)})
        parts.append(block.text)
        offset += len(block.text)
    return "\n\n".join(parts), outline


@transaction.atomic
def _write_chunks(document: Document, drafts) -> list[Chunk]:
    """Replace the document's chunks; the database's full-text index follows in the same
    transaction (FTS5 triggers / generated tsvector column)."""
    Chunk.objects.filter(document=document).delete()
    return Chunk.objects.bulk_create(
        [
            Chunk(document=document, position=d.position, text=d.text, page=d.page,
                  section=(d.section or None) and d.section[:500], token_count=d.token_count)
            for d in drafts
        ],
        batch_size=500,
    )


def _embed(document: Document, chunks: list[Chunk]) -> None:
    """Vectors for every chunk into the vector store (replacing the document's old ones)."""
    store = vector_stores["default"]
    backend = embeddings["default"]
    store.delete(str(document.id))
    for start in range(0, len(chunks), EMBED_BATCH):
        batch = chunks[start : start + EMBED_BATCH]
        vectors = backend.embed([c.text for c in batch])
        store.upsert(
            VectorItem(
                id=str(c.pk),
                vector=v,
                document_id=str(document.id),
                metadata={"owner_id": document.owner_id, "course_id": str(document.course_id) if document.course_id else None,
                          "page": c.page, "section": c.section},
            )
            for c, v in zip(batch, vectors, strict=True)
        )
        _progress(document, 60 + int(20 * (start + len(batch)) / len(chunks)), "embedding")


def _analyse(document: Document, text: str) -> tuple[dict, str]:
    completion = llm["default"].complete(
        [
            {"role": "system", "content": ANALYSIS_PROMPT},
            {"role": "user", "content": f"Title: {document.name}\n\n{text[:12000]}"},
        ],
        task="document_analysis",
        context={"title": document.name, "text": text[:ANALYSIS_CHARS]},
        json_mode=True,
        max_tokens=800,
    )
    data = json.loads(completion.text)
    if not isinstance(data, dict):
        raise ValueError("analysis is not a JSON object")

    def strings(value, limit=12) -> list[str]:
        return [str(v).strip()[:100] for v in (value or []) if str(v).strip()][:limit] if isinstance(value, list) else []

    return {
        "summary": str(data.get("summary") or "").strip(),
        "topics": strings(data.get("topics")),
        "key_concepts": strings(data.get("key_concepts")),
    }, completion.model


def _fail(document: Document, message: str) -> Document:
    Document.objects.filter(pk=document.pk).update(
        processing_status=Document.Status.FAILED,
        processing_error=message,
        processing_metadata={**document.processing_metadata, "stage": "failed"},
        updated_at=timezone.now(),
    )
    document.refresh_from_db()
    _emit(document, "document.processing.failed")
    return document


def _emit(document: Document, event: str) -> None:
    from tutorhub.engagement.webhooks import webhook_event_emit

    payload = {
        "document_id": str(document.id),
        "course_id": str(document.course_id) if document.course_id else None,
        "name": document.name,
        "processing_status": document.processing_status,
        "processing_error": document.processing_error,
        "chunk_count": document.processing_metadata.get("chunk_count", 0),
    }
    webhook_event_emit(user=document.owner, event=event, payload=payload)


def document_process(*, document_id) -> Document | None:
    """Run the whole pipeline for one document. Never raises for a bad document: the failure
    is stored on it. Returns None when the document is gone or another worker holds it."""
    document = _claim(document_id)
    if document is None:
        return None
    try:
        with usage_scope(user=document.owner, feature="ingestion"):
            return _run_pipeline(document)
    except ExtractionError as exc:
        return _fail(document, str(exc))
    except Exception as exc:  # a bug or an outage must fail this document, not kill the worker
        logger.exception("Processing document %s failed", document.pk)
        return _fail(document, f"Processing failed unexpectedly ({type(exc).__name__}); try reprocessing.")


def _run_pipeline(document: Document) -> Document:
    if not document.file and document.source_url:
        _progress(document, 10, "downloading")
        _fetch_source(document)
    if not document.file:
        raise ExtractionError("The document has no file to process.")
    _progress(document, 15, "extracting")
    with document.file.open("rb") as handle:
        data = handle.read()
    extracted = extract(data, document.document_type)
    text, outline = _outline(extracted)
    Document.objects.filter(pk=document.pk).update(
        extracted_text=text, outline=outline, page_count=extracted.pages, updated_at=timezone.now()
    )
    _progress(document, 35, "chunking", pages_processed=extracted.pages or 1, text_extracted=True,
              ocr=bool(extracted.metadata.get("ocr")))
    drafts = chunk_blocks(extracted.blocks, max_tokens=settings.CHUNK_MAX_TOKENS, overlap_tokens=settings.CHUNK_OVERLAP_TOKENS)
    if not drafts:
        raise ExtractionError("No text could be extracted from the document.")
    chunks = _write_chunks(document, drafts)
    _progress(document, 60, "indexed", chunk_count=len(chunks), lexical_indexed=True)

    embedded = False
    if embeddings.configured():
        try:
            _embed(document, chunks)
            embedded = True
        except ProviderError as exc:
            # Lexical retrieval still works; the document completes and can be reprocessed later.
            logger.warning("Embedding document %s failed: %s", document.pk, exc)
            document.processing_metadata["embedding_error"] = "The embedding service failed; search is lexical only."
    _progress(document, 80, "analysing", embeddings_created=embedded)

    analysis, model = {"summary": "", "topics": [], "key_concepts": []}, ""
    try:
        analysis, model = _analyse(document, text)
    except (ProviderError, ValueError, TypeError) as exc:
        logger.warning("Analysing document %s failed: %s", document.pk, exc)
        document.processing_metadata["summary_error"] = "The summary could not be generated; try reprocessing."
    document.refresh_from_db(fields=["extracted_text"])
    Document.objects.filter(pk=document.pk).update(
        processing_status=Document.Status.COMPLETED,
        progress_percentage=100,
        processed_at=timezone.now(),
        embeddings_available=embedded,
        summary=analysis["summary"],
        topics=analysis["topics"],
        key_concepts=analysis["key_concepts"],
        processing_metadata={
            **document.processing_metadata,
            "stage": "completed",
            "summary_generated": bool(analysis["summary"]),
            "ai_model_used": model,
        },
        updated_at=timezone.now(),
    )
    usage_record(user=document.owner, kind="documents", amount=1, feature="ingestion", metadata={"document_id": str(document.id)})
    document.refresh_from_db()
    _emit(document, "document.processing.completed")
    return document


# --- maintenance -------------------------------------------------------------------------------
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
