"""Seed 000's self-submitted homework: upload (text or file), then AI feedback in the background."""

from __future__ import annotations

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from tutorhub.assessments.models import HomeworkSubmission
from tutorhub.assessments.services.ai import homework_feedback_generate, material_gather
from tutorhub.learning.services import learner_event_record

MAX_HOMEWORK_CHARS = 40_000


def _read_upload(upload) -> str:
    """Text of an uploaded file through the knowledge app's extractor (PDF, DOCX, text, images)."""
    from tutorhub.knowledge.extraction import ExtractionError, extract, sniff

    limit = getattr(settings, "HOMEWORK_MAX_UPLOAD_BYTES", 10 * 1024 * 1024)
    if upload.size > limit:
        raise serializers.ValidationError({"file": [f"The file is larger than {limit // (1024 * 1024)} MB."]})
    data = upload.read()
    try:
        return extract(data, sniff(data, upload.name or "")).text
    except ExtractionError as exc:
        raise serializers.ValidationError({"file": [str(exc)]}) from None


def homework_submit(
    *, user, text: str = "", upload=None, title: str = "", subject: str = "", topic: str = ""
) -> HomeworkSubmission:
    """Store a submission (the text, and the file when one is given) and queue its feedback.
    Raises ValidationError when there is no readable text."""
    file_text = _read_upload(upload) if upload is not None else ""
    body = "\n\n".join(t for t in (text.strip(), file_text.strip()) if t)[:MAX_HOMEWORK_CHARS]
    if not body:
        raise serializers.ValidationError({"text": ["Send the homework as text or as a file with readable text."]})
    with transaction.atomic():
        submission = HomeworkSubmission.objects.create(
            user=user, title=title or (upload.name if upload else "")[:200], subject=subject, topic=topic, text=body,
            file_name=(upload.name or "")[:255] if upload else "",
        )
        if upload is not None:
            upload.seek(0)
            submission.file.save(upload.name, ContentFile(upload.read()), save=True)
        from tutorhub.assessments.tasks import homework_feedback_task

        transaction.on_commit(lambda: homework_feedback_task.enqueue(str(submission.pk)))
    return submission


def homework_feedback_run(*, submission_id) -> HomeworkSubmission:
    """Mark one submission against the student's material; stores score and feedback, or the
    failure reason (status "failed") so the client is told instead of waiting forever."""
    submission = HomeworkSubmission.objects.select_related("user").get(pk=submission_id)
    if submission.status == HomeworkSubmission.Status.COMPLETED:
        return submission
    HomeworkSubmission.objects.filter(pk=submission.pk).update(progress=10)
    try:
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
    """Queue a failed submission's feedback again."""
    from tutorhub.assessments.tasks import homework_feedback_task

    with transaction.atomic():
        HomeworkSubmission.objects.filter(pk=submission.pk).update(
            status=HomeworkSubmission.Status.PROCESSING, error="", progress=0
        )
        transaction.on_commit(lambda: homework_feedback_task.enqueue(str(submission.pk)))
    submission.refresh_from_db()
    return submission
