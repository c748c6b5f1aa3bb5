"""The chatbot dialect's self-submitted homework: upload (text or file), then text extraction and AI feedback
in the background."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from tutorhub.assessments.models import HomeworkSubmission
from tutorhub.assessments.services.ai import homework_feedback_generate, material_gather
from tutorhub.core.exceptions import ServiceError
from tutorhub.core.uploads import upload_too_large
from tutorhub.learning.services import learner_event_record

MAX_HOMEWORK_CHARS = 40_000


def homework_upload_check(upload) -> None:
    """Refuse a homework file that is too large, empty or of no supported type, before any row
    or file is written. Only the cheap content sniff runs here; the text is extracted later by
    the worker (`homework_feedback_run`), in the extraction sandbox, so a hostile file never
    holds a web request."""
    from tutorhub.knowledge.extraction import ExtractionError, sniff

    limit = settings.HOMEWORK_MAX_UPLOAD_BYTES
    if upload.size > limit:
        raise upload_too_large(limit)
    if not upload.size:
        raise serializers.ValidationError({"file": ["The file is empty."]})
    upload.seek(0)
    data = upload.read(limit + 1)
    upload.seek(0)
    try:
        sniff(data, upload.name or "")
    except ExtractionError as exc:
        raise serializers.ValidationError({"file": [str(exc)]}) from None


def homework_submit(
    *, user, text: str = "", upload=None, title: str = "", subject: str = "", topic: str = ""
) -> HomeworkSubmission:
    """Store a submission (the text, and the file when one is given) and queue its text
    extraction and feedback; returns at once with status "processing" for the client to poll.
    Raises ValidationError when there is neither text nor a file, 413 for an oversized file."""
    text = text.strip()[:MAX_HOMEWORK_CHARS]
    if upload is not None:
        homework_upload_check(upload)
    elif not text:
        raise serializers.ValidationError({"text": ["Send the homework as text or as a file with readable text."]})
    with transaction.atomic():
        submission = HomeworkSubmission.objects.create(
            user=user, title=title or (upload.name if upload else "")[:200], subject=subject, topic=topic, text=text,
            file_name=(upload.name or "")[:255] if upload else "",
        )
        if upload is not None:
            submission.file.save(upload.name, upload, save=True)
        _enqueue_feedback(submission)
    return submission


def _enqueue_feedback(submission: HomeworkSubmission) -> None:
    """Queue the submission's extraction + feedback after commit, behind other students' first
    submissions when this student already has some in flight (see `fair_priority`)."""
    from tutorhub.assessments.tasks import homework_feedback_task
    from tutorhub.knowledge.tasks import fair_priority

    def enqueue() -> None:
        in_flight = HomeworkSubmission.objects.filter(
            user_id=submission.user_id, status=HomeworkSubmission.Status.PROCESSING, created_at__lt=submission.created_at
        ).count()
        homework_feedback_task.using(priority=fair_priority(in_flight)).enqueue(str(submission.pk))

    transaction.on_commit(enqueue)


def _extract_file(submission: HomeworkSubmission) -> None:
    """Append the file's text to the submission's text (once: a retry after a failed AI call
    does not extract again). Raises ServiceError PROCESSING_FAILED with the reason."""
    from tutorhub.knowledge.extraction import ExtractionError, sniff
    from tutorhub.knowledge.sandbox import extract_sandboxed

    try:
        with submission.file.open("rb") as handle:
            data = handle.read()
        file_text = extract_sandboxed(data, sniff(data, submission.file_name)).text
    except ExtractionError as exc:
        raise ServiceError(
            f"The homework file could not be read: {exc}", error_code="PROCESSING_FAILED", status_code=422
        ) from None
    except OSError:  # the stored file is gone or unreadable
        raise ServiceError(
            "The homework file could not be read; upload it again.", error_code="PROCESSING_FAILED", status_code=422
        ) from None
    body = "\n\n".join(t for t in (submission.text.strip(), file_text.strip()) if t)[:MAX_HOMEWORK_CHARS]
    if not body:
        raise ServiceError(
            "The homework file has no readable text.", error_code="PROCESSING_FAILED", status_code=422
        )
    submission.text = body
    submission.file_extracted = True
    submission.save(update_fields=["text", "file_extracted", "updated_at"])


def homework_feedback_run(*, submission_id) -> HomeworkSubmission:
    """Mark one submission against the student's material; stores score and feedback, or the
    failure reason (status "failed") so the client is told instead of waiting forever."""
    submission = HomeworkSubmission.objects.select_related("user").get(pk=submission_id)
    if submission.status == HomeworkSubmission.Status.COMPLETED:
        return submission
    HomeworkSubmission.objects.filter(pk=submission.pk).update(progress=10)
    try:
        if submission.file and not submission.file_extracted:
            _extract_file(submission)
            HomeworkSubmission.objects.filter(pk=submission.pk).update(progress=25)
        query = " ".join(x for x in (submission.topic, submission.subject) if x) or submission.text[:500]
        material = material_gather(user=submission.user, query=query, k=5)
        HomeworkSubmission.objects.filter(pk=submission.pk).update(progress=40)
        data, model = homework_feedback_generate(
            user=submission.user, submission=submission.text, topic=submission.topic or submission.subject,
            material=material,
        )
    except Exception as exc:
        submission.status = HomeworkSubmission.Status.FAILED
        submission.error = str(getattr(exc, "detail", "")) or "Feedback could not be generated."
        submission.save(update_fields=["status", "error", "updated_at"])
        raise
    sources = [material[i].source() or {"document_title": material[i].document_title}
               for i in data.pop("sources") if 0 <= i < len(material)]
    with transaction.atomic():
        submission.score = round(data["score"], 1)
        submission.feedback = data["feedback"]
        submission.feedback_details = {**data, "sources": sources}
        submission.ai_model_used = model
        submission.status = HomeworkSubmission.Status.COMPLETED
        submission.progress = 100
        submission.error = ""
        submission.reviewed_at = timezone.now()
        submission.save()
        learner_event_record(
            user=submission.user,
            kind="homework",
            topic=submission.topic or submission.subject or submission.title,
            score=submission.score / 100,
            subject=submission.subject,
            source=f"assessments.HomeworkSubmission:{submission.pk}",
        )
    return submission


def homework_feedback_retry(*, submission: HomeworkSubmission) -> HomeworkSubmission:
    """Queue a failed submission's feedback again (and its file's extraction, if that failed)."""
    with transaction.atomic():
        HomeworkSubmission.objects.filter(pk=submission.pk).update(
            status=HomeworkSubmission.Status.PROCESSING, error="", progress=0
        )
        _enqueue_feedback(submission)
    submission.refresh_from_db()
    return submission
