"""Ingestion: files, URLs and pasted text become Documents queued for processing."""

from __future__ import annotations

import hashlib
import logging
import os

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Subquery
from django.utils.text import get_valid_filename

from tutorhub.billing.services import quota_check, usage_record
from tutorhub.core.exceptions import ServiceError
from tutorhub.core.fetch import FetchError, resolve_checked
from tutorhub.core.permissions import is_admin
from tutorhub.core.uploads import upload_too_large
from tutorhub.knowledge.extraction import KINDS, ExtractionError, sniff
from tutorhub.knowledge.models import Document

logger = logging.getLogger(__name__)


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
    """Queue processing once the row is committed (the worker must see it), behind other
    users' first documents when the owner already has some in flight (per-user fairness)."""
    from tutorhub.knowledge.tasks import document_process_task, fair_priority

    document_id = str(document.id)

    def enqueue() -> None:
        # The owner's unfinished documents queued before this one (through subqueries: requeue
        # passes an id-only Document). One query.
        this = Document.objects.filter(pk=document_id)
        in_flight = (
            Document.objects.filter(
                owner_id=Subquery(this.values("owner_id")[:1]),
                created_at__lt=Subquery(this.values("created_at")[:1]),
                processing_status__in=[Document.Status.PENDING, Document.Status.PROCESSING],
            )
            .count()
        )
        result = document_process_task.using(priority=fair_priority(in_flight)).enqueue(document_id)
        Document.objects.filter(pk=document_id).update(processing_task_id=str(result.id)[:64])

    transaction.on_commit(enqueue)


def _display_filename(filename: str) -> str:
    base = os.path.basename((filename or "").replace("\\", "/"))
    try:
        return get_valid_filename(base)[:255] if base else ""
    except SuspiciousFileOperation:  # get_valid_filename refuses names like ".." - they are only for display anyway
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
        raise upload_too_large(limit)
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
    """The canonical API upload: read the uploaded file (bounded) and ingest it."""
    limit = settings.DOCUMENT_UPLOAD_MAX_SIZE
    if getattr(file, "size", 0) and file.size > limit:
        raise upload_too_large(limit)
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
    """The chatbot dialect: pasted text, processed through the same pipeline. Short text is indexed before
    returning (the seed's reply says "ingested and indexed"); the work is bounded by the size cap."""
    from tutorhub.knowledge.services.processing import document_process

    document = document_ingest_file(
        user=user, data=content.encode("utf-8"), filename="resource.txt", name=title, course=course, background=False
    )
    return document_process(document_id=document.id) or document
