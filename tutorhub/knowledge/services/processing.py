"""Processing pipeline (`document_process`, run by the `document_process_task` worker task):
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

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from tutorhub.ai import ProviderError, embeddings, llm, usage_scope, vector_stores
from tutorhub.ai.base import VectorItem
from tutorhub.billing.services import QuotaExceeded, ai_spend_scope, usage_record
from tutorhub.core.fetch import FetchError, safe_request
from tutorhub.engagement.services import notification_group_name
from tutorhub.engagement.webhooks import webhook_event_emit
from tutorhub.knowledge.chunking import assign_heading_paths, chunk_blocks, entry_title
from tutorhub.knowledge.extraction import KINDS, Extracted, ExtractionError, sniff
from tutorhub.knowledge.models import Chunk, Document
from tutorhub.knowledge.sandbox import extract_sandboxed

logger = logging.getLogger(__name__)

EMBED_BATCH = 64
ANALYSIS_CHARS = 200_000  # what the summariser reads; enough for a summary, bounded for cost
ANALYSIS_PROMPT = (
    "You analyse study material. Reply with a JSON object with keys: summary (3-5 sentences), "
    "topics (up to 8 short lowercase topics) and key_concepts (up to 8 key phrases, usually two or three "
    "words, written as plain words with spaces, never snake_case or a fragment of a sentence)."
)


def _progress(document: Document, percentage: int, stage: str, **metadata) -> None:
    document.progress_percentage = percentage
    document.processing_metadata = {**document.processing_metadata, "stage": stage, **metadata}
    Document.objects.filter(pk=document.pk).update(
        progress_percentage=percentage, processing_metadata=document.processing_metadata, updated_at=timezone.now()
    )

    _push_progress(document)


def _push_progress(document: Document) -> None:
    """Tell the owner's open ws/notifications/ sockets how far the document got (best effort:
    the status endpoint stays the source of truth). From the worker process this crosses to
    the server through the channel layer (tutorhub.core.channels_db without Redis)."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    event = {
        "document_id": str(document.pk),
        "processing_status": document.processing_status,
        "progress_percentage": document.progress_percentage,
        "stage": (document.processing_metadata or {}).get("stage"),
    }
    try:
        async_to_sync(layer.group_send)(notification_group_name(document.owner_id), {"type": "document.progress", "document": event})
    except Exception:  # a down channel layer must not fail the document
        logger.warning("Live progress of document %s not pushed", document.pk, exc_info=True)


def _claim(document_id, task_id) -> Document | None:
    """Mark the document as processing by task `task_id`, unless another live task holds it.
    The same task run again (its worker died and the lease sweep requeued it) takes over."""
    from tutorhub.knowledge.services.maintenance import documents_running

    with transaction.atomic():
        document = Document.objects.select_for_update().filter(pk=document_id).first()
        if document is None:
            return None
        taken_over = task_id is not None and document.processing_task_id == str(task_id)
        if document.processing_status == Document.Status.PROCESSING and not taken_over and documents_running([document]):
            logger.info("Document %s is already being processed", document_id)
            return None
        if task_id is not None:
            document.processing_task_id = str(task_id)[:64]
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
        title = entry_title(block.section, block.page)
        if not block.text:  # a heading directly above a sub-heading: kept so the outline's hierarchy is whole
            outline.append({"title": title, "page": block.page, "level": block.level, "start": offset, "end": offset})
            continue
        if parts:
            offset += 2
        if outline and outline[-1]["title"] == title and outline[-1]["page"] == block.page:
            outline[-1]["end"] = offset + len(block.text)
        else:
            outline.append({"title": title, "page": block.page, "level": block.level if block.section else None,
                            "start": offset, "end": offset + len(block.text)})
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
                  section=(d.section or None) and d.section[:500], heading_path=d.heading_path,
                  token_count=d.token_count)
            for d in drafts
        ],
        batch_size=500,
    )


# Bump when Chunk.embedding_text changes what the model sees (v1: heading path, blank line, text):
# it is part of the fingerprint, so the backfill re-embeds vectors of the older text.
EMBEDDING_TEXT_SCHEME = "path+text/1"
FINGERPRINT_KEY = "embedding_fingerprint"  # processing_metadata entry: what made the document's vectors


def embedding_fingerprint() -> str:
    """What the default backend's vectors depend on besides the chunk: model, precision, input
    limit (the backend's fingerprint) and the embedding-text scheme. A local model is loaded to
    answer (whether int8 is available is known only then). Raises ProviderError."""
    return f"{embeddings['default'].fingerprint}|{EMBEDDING_TEXT_SCHEME}"


def _embed(document: Document, chunks: list[Chunk]) -> str:
    """Vectors for every chunk into the vector store (replacing the document's old ones); returns
    their fingerprint."""
    vector_stores["default"].delete(str(document.id))
    embed_chunks(document, chunks, on_batch=lambda done: _progress(document, 60 + int(20 * done / len(chunks)), "embedding"))
    return embedding_fingerprint()


def embed_chunks(document: Document, chunks: list[Chunk], *, on_batch=None) -> None:
    """Upsert the vectors of `chunks` in EMBED_BATCH batches, calling `on_batch(chunks done)` after
    each. Vector ids are chunk pks, so embedding a chunk again overwrites its vector (the
    embedding backfill relies on that to resume, and to re-embed a document in place: its old
    vectors answer queries until each is replaced). Raises ProviderError."""
    store = vector_stores["default"]
    backend = embeddings["default"]
    for start in range(0, len(chunks), EMBED_BATCH):
        batch = chunks[start : start + EMBED_BATCH]
        vectors = backend.embed([c.embedding_text for c in batch])
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
        if on_batch is not None:
            on_batch(start + len(batch))


def _analyse(document: Document, text: str) -> tuple[dict, str]:
    messages = [
        {"role": "system", "content": ANALYSIS_PROMPT},
        {"role": "user", "content": f"Title: {document.name}\n\n{text[:12000]}"},
    ]
    backend = llm["default"]
    # A paid model's summary is the uploader's spending: checked against their plan first and
    # shown as its own feature in usage (offline analysis is free and never refused).
    with ai_spend_scope(user=document.owner, feature="document_analysis", messages=messages, max_output_tokens=800,
                        backend=backend):
        completion = backend.complete(
            messages,
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
    # error_code lets clients (status endpoint, webhook) tell a failed file from other states
    # without parsing the human message.
    Document.objects.filter(pk=document.pk).update(
        processing_status=Document.Status.FAILED,
        processing_error=message,
        processing_metadata={**document.processing_metadata, "stage": "failed", "error_code": "PROCESSING_FAILED"},
        updated_at=timezone.now(),
    )
    document.refresh_from_db()
    _emit(document, "document.processing.failed")
    return document


def _emit(document: Document, event: str) -> None:
    _push_progress(document)

    payload = {
        "document_id": str(document.id),
        "course_id": str(document.course_id) if document.course_id else None,
        "name": document.name,
        "processing_status": document.processing_status,
        "processing_error": document.processing_error,
        "error_code": document.processing_metadata.get("error_code"),
        "chunk_count": document.processing_metadata.get("chunk_count", 0),
    }
    webhook_event_emit(user=document.owner, event=event, payload=payload)


def document_process(*, document_id, task_id=None) -> Document | None:
    """Run the whole pipeline for one document (`task_id`: the queue task running it). Safe to
    run again after a crash: chunks and vectors are replaced, not added. Never raises for a bad
    document: the failure is stored on it. Returns None when the document is gone or another
    live task holds it."""
    document = _claim(document_id, task_id)
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
    # In a child process with CPU/memory/wall limits: a bomb fails this document, not the worker.
    extracted = extract_sandboxed(data, document.document_type)
    text, outline = _outline(extracted)
    Document.objects.filter(pk=document.pk).update(
        extracted_text=text, outline=outline, page_count=extracted.pages, updated_at=timezone.now()
    )
    _progress(document, 35, "chunking", pages_processed=extracted.pages or 1, text_extracted=True,
              ocr=bool(extracted.metadata.get("ocr")))
    drafts = chunk_blocks(extracted.blocks, max_tokens=settings.CHUNK_MAX_TOKENS, overlap_tokens=settings.CHUNK_OVERLAP_TOKENS)
    assign_heading_paths(drafts, title=document.name, outline=outline)
    if not drafts:
        raise ExtractionError("No text could be extracted from the document.")
    chunks = _write_chunks(document, drafts)
    _progress(document, 60, "indexed", chunk_count=len(chunks), lexical_indexed=True)

    embedded = False
    if embeddings.configured():
        try:
            document.processing_metadata[FINGERPRINT_KEY] = _embed(document, chunks)
            embedded = True
        except ProviderError as exc:
            # Lexical retrieval still works; the document completes and can be reprocessed later.
            logger.warning("Embedding document %s failed: %s", document.pk, exc)
            document.processing_metadata["embedding_error"] = "The embedding service failed; search is lexical only."
    _progress(document, 80, "analysing", embeddings_created=embedded)

    analysis, model = {"summary": "", "topics": [], "key_concepts": []}, ""
    try:
        analysis, model = _analyse(document, text)
    except QuotaExceeded:
        # The document is still searchable; only the paid summary waits for quota.
        document.processing_metadata["summary_error"] = (
            "The summary was not generated: your plan's AI token limit is reached. Reprocess it later."
        )
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

