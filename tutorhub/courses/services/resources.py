"""Lesson resources (files for a lesson's students) and lesson reminders."""

from __future__ import annotations

import logging
import mimetypes
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from tutorhub.core.exceptions import ServiceError
from tutorhub.core.uploads import upload_too_large
from tutorhub.courses.audio import CONTENT_TYPES as AUDIO_TYPES
from tutorhub.courses.audio import sniff_audio_format
from tutorhub.courses.models import Lesson, LessonResource
from tutorhub.courses.services.groups import lesson_students_notify
from tutorhub.engagement.services import notification_create

logger = logging.getLogger(__name__)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Types a browser could execute if opened inline are always served as opaque bytes.
UNSAFE_TYPES = {"text/html", "application/xhtml+xml", "image/svg+xml", "application/javascript", "text/javascript"}
INDEXABLE_TYPES = {DOCX, "application/pdf", "text/plain", "text/markdown"}


def sniff_resource(head: bytes, filename: str) -> tuple[str, str]:
    """(resource_type, content_type) from the file's bytes, using the name only to tell zip-based formats apart."""
    ext = os.path.splitext(filename)[1].lower()
    audio = sniff_audio_format(head[:16])
    if head.startswith(b"%PDF"):
        return LessonResource.Kind.DOCUMENT, "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        if ext == ".docx":
            return LessonResource.Kind.DOCUMENT, DOCX
        guessed = mimetypes.guess_type(filename)[0] or "application/zip"
        return LessonResource.Kind.DOCUMENT if ext in {".pptx", ".xlsx", ".odt"} else LessonResource.Kind.OTHER, guessed
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return LessonResource.Kind.DOCUMENT, "application/msword"
    if audio and not (audio == "mp3" and ext not in {".mp3", ""} and not head.startswith(b"ID3")):
        return LessonResource.Kind.AUDIO, AUDIO_TYPES[audio]
    if ext in {".txt", ".md"}:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return LessonResource.Kind.DOCUMENT, "text/markdown" if ext == ".md" else "text/plain"
    guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return LessonResource.Kind.OTHER, "application/octet-stream" if guessed in UNSAFE_TYPES else guessed


@transaction.atomic
def lesson_resource_upload(*, lesson: Lesson, uploaded_by, upload, title: str = "", description: str = "") -> LessonResource:
    """Store a file for a lesson; documents are also indexed into the course's knowledge base."""
    max_bytes = settings.LESSON_RESOURCE_MAX_BYTES
    if upload.size == 0:
        raise ValidationError({"file": ["The file is empty."]})
    if upload.size > max_bytes:
        raise upload_too_large(max_bytes)
    filename = os.path.basename(upload.name or "file")[:255]
    head = upload.read(2048)
    upload.seek(0)
    kind, content_type = sniff_resource(head, filename)
    resource = LessonResource(
        lesson=lesson,
        title=(title or os.path.splitext(filename)[0])[:200],
        description=description,
        resource_type=kind,
        original_filename=filename,
        content_type=content_type,
        file_size_bytes=upload.size,
        uploaded_by=uploaded_by,
    )
    resource.file.save(filename, upload, save=False)
    resource.save()
    if content_type in INDEXABLE_TYPES:
        _index_in_knowledge(resource, uploaded_by)
    lesson_students_notify(
        lesson=lesson, kind="lesson_resource_added", title=f"New material: {resource.title}", data={"resource_id": resource.pk}
    )
    return resource


# Indexing a file for the AI tutor is the knowledge app's work, and knowledge sits above courses
# (its documents belong to courses): KnowledgeConfig.ready registers its ingest service here.
_document_indexer: Callable[..., Any] | None = None


def document_indexer_register(indexer: Callable[..., Any]) -> None:
    """`indexer(*, user, data, filename, name, description, course)` stores and indexes one file
    as a course document and returns it (with `.pk`); it raises ServiceError when it cannot."""
    global _document_indexer
    _document_indexer = indexer


def _index_in_knowledge(resource: LessonResource, uploaded_by) -> None:
    """Add the document to the group's course in the knowledge base, so the AI tutor answers from it
    for the group's students (course visibility follows group membership). Indexing problems
    (quota, unreadable file) leave the resource downloadable and are logged, not raised."""
    if _document_indexer is None:
        raise ImproperlyConfigured("No document indexer is registered (tutorhub.knowledge registers one when installed).")
    with resource.file.open("rb") as fh:
        data = fh.read()
    try:
        with transaction.atomic():
            document = _document_indexer(
                user=uploaded_by,
                data=data,
                filename=resource.original_filename,
                name=resource.title,
                description=resource.description,
                course=resource.lesson.group.course,
            )
    except ServiceError as exc:
        logger.warning("Lesson resource %s was not indexed: %s", resource.pk, exc.detail)
        return
    resource.knowledge_document_id = document.pk
    resource.save(update_fields=["knowledge_document_id", "updated_at"])


@transaction.atomic
def lesson_resource_delete(*, resource: LessonResource) -> None:
    name = resource.file.name
    storage = resource.file.storage
    resource.delete()
    transaction.on_commit(lambda: storage.delete(name))


@transaction.atomic
def lessons_remind(*, now: datetime | None = None) -> int:
    """Notify students and the teacher of lessons starting within LESSON_REMINDER_HOURS, once per lesson.

    Returns the number of lessons reminded. Safe to run as often as wanted (reminder_sent_at).
    """
    now = now or timezone.now()
    horizon = now + timedelta(hours=settings.LESSON_REMINDER_HOURS)
    candidates = (
        Lesson.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            status=Lesson.Status.SCHEDULED,
            reminder_sent_at__isnull=True,
            scheduled_date__gte=now.date() - timedelta(days=1),
            scheduled_date__lte=horizon.date(),
        )
        .select_related("group__teacher")
        .prefetch_related("group__students")
    )
    reminded = 0
    for lesson in candidates:
        starts = timezone.make_aware(datetime.combine(lesson.scheduled_date, lesson.start_time))
        if not now <= starts <= horizon:
            continue
        people = list(lesson.group.students.all()) + ([lesson.group.teacher] if lesson.group.teacher else [])
        for person in people:
            notification_create(
                user=person,
                kind="lesson_reminder",
                title=f"Lesson soon: {lesson.group.name}",
                message=f"{lesson.scheduled_date:%A %Y-%m-%d} at {lesson.start_time:%H:%M} UTC"
                + (f" — {lesson.topic}" if lesson.topic else ""),
                data={"lesson_id": lesson.pk, "group_id": lesson.group_id, "starts_at": starts.isoformat()},
            )
        lesson.reminder_sent_at = now
        lesson.save(update_fields=["reminder_sent_at", "updated_at"])
        reminded += 1
    return reminded
