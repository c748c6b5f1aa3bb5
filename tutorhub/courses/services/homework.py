"""Homework: assignment per lesson, audio submission, background checking, teacher review.

Checking pipeline (background task, progress in `progress_percentage`):
transcription (speech-to-text interface) → similarity to the expected answer
(tutorhub.courses.similarity) → learner-model evidence → AI feedback (LLM task
"speaking_feedback"; the offline backend gives rule-based feedback from the word diff).
"""

from __future__ import annotations

import logging
import os

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied, ValidationError

from tutorhub.ai import llm, speech, usage_scope
from tutorhub.ai.base import ProviderError
from tutorhub.core.exceptions import Conflict
from tutorhub.core.uploads import upload_too_large
from tutorhub.courses.audio import inspect_audio
from tutorhub.courses.models import Homework, HomeworkSubmission, Lesson
from tutorhub.courses.services.groups import lesson_students_notify
from tutorhub.courses.similarity import speech_similarity
from tutorhub.engagement.services import achievements_evaluate, coins_award, notification_create

logger = logging.getLogger(__name__)
Status = HomeworkSubmission.Status


@transaction.atomic
def homework_create(*, lesson: Lesson, created_by, data: dict) -> Homework:
    homework = Homework(lesson=lesson, created_by=created_by, **data)
    homework.full_clean()
    homework.save()
    lesson_students_notify(
        lesson=lesson, kind="homework_assigned", title=f"New homework: {homework.title}", data={"homework_id": homework.pk}
    )
    return homework


@transaction.atomic
def homework_update(*, homework: Homework, data: dict) -> Homework:
    for name, value in data.items():
        setattr(homework, name, value)
    homework.full_clean()
    homework.save()
    return homework


@transaction.atomic
def homework_submit(*, homework: Homework, student, upload) -> HomeworkSubmission:
    """Store a student's recording (replacing an earlier one that is not yet approved) and queue checking.

    Raises PermissionDenied when the user is not a student of the group, ValidationError for a
    bad file (format sniffed from the bytes, size and duration limits), Conflict when the
    homework was already approved.
    """
    if not homework.lesson.group.students.filter(pk=student.pk).exists():
        raise PermissionDenied("Only students of this group can submit this homework.")
    max_bytes = settings.HOMEWORK_AUDIO_MAX_BYTES
    if upload.size > max_bytes:
        raise upload_too_large(max_bytes, "audio file")
    data = upload.read()
    info = inspect_audio(data, max_bytes=max_bytes, max_seconds=settings.HOMEWORK_AUDIO_MAX_SECONDS)

    submission = (
        HomeworkSubmission.objects.select_for_update().filter(homework=homework, student=student).first()
    )
    if submission and submission.status == Status.APPROVED:
        raise Conflict("This homework was already approved; it cannot be resubmitted.", error_code="ALREADY_APPROVED")
    if submission is None:
        submission = HomeworkSubmission(homework=homework, student=student)
    elif submission.audio_submission:
        old_name = submission.audio_submission.name
        transaction.on_commit(lambda: submission.audio_submission.storage.delete(old_name))
    # Only the extension survives: the stored name is random (PrivateUploadTo).
    submission.audio_submission.save(f"recording.{info.format}", ContentFile(data), save=False)
    submission.audio_format = info.format
    submission.audio_size_bytes = len(data)
    submission.audio_duration_seconds = info.duration_seconds
    submission.status, submission.progress_percentage = Status.SUBMITTED, 0
    submission.transcription = submission.ai_feedback = submission.ai_model_used = submission.processing_error = ""
    submission.similarity_score = None
    submission.teacher_feedback, submission.reviewed_by, submission.reviewed_at = "", None, None
    submission.save()

    teacher = homework.lesson.group.teacher
    if teacher is not None:
        notification_create(
            user=teacher,
            kind="homework_submitted",
            title=f"{student.get_full_name() or student.username} submitted “{homework.title}”",
            data={"homework_id": homework.pk, "submission_id": submission.pk, "student_id": student.pk},
        )
    from tutorhub.courses.tasks import homework_submission_check

    transaction.on_commit(lambda: homework_submission_check.enqueue(submission.pk))
    return submission


def _progress(submission: HomeworkSubmission, percentage: int, **fields) -> None:
    """Save a step's results unless a teacher reviewed the submission meanwhile."""
    fields["progress_percentage"] = percentage
    for name, value in fields.items():
        setattr(submission, name, value)
    HomeworkSubmission.objects.filter(pk=submission.pk, status=Status.PROCESSING).update(
        updated_at=timezone.now(), **fields
    )


def homework_submission_process(*, submission_id: int) -> str:
    """Transcribe, score and give feedback on one submission. Returns the final status.

    Provider failures do not raise: transcription failure marks the submission failed with a
    clear message (the student can resubmit); feedback failure keeps the transcript and score.
    """
    with transaction.atomic():
        submission = (
            HomeworkSubmission.objects.select_for_update()
            .select_related("homework__lesson__group", "student")
            .filter(pk=submission_id, status__in=[Status.SUBMITTED, Status.FAILED])
            .first()
        )
        if submission is None:
            return "skipped"
        submission.status, submission.progress_percentage = Status.PROCESSING, 10
        submission.save(update_fields=["status", "progress_percentage", "updated_at"])

    homework, student = submission.homework, submission.student
    with submission.audio_submission.open("rb") as fh:
        audio = fh.read()
    try:
        with usage_scope(user=student, feature="homework_transcription"):
            transcript = speech["default"].transcribe(
                audio,
                filename=os.path.basename(submission.audio_submission.name),
                content_type=f"audio/{submission.audio_format}",
                language=homework.language or None,
            )
    except ProviderError as exc:
        logger.warning("Transcription of submission %s failed: %s", submission.pk, exc)
        detail = "Transcription is not configured on this server." if exc.permanent else (
            "The transcription service is unavailable; please submit again later."
        )
        _progress(submission, 100, status=Status.FAILED, processing_error=detail)
        return Status.FAILED
    transcript = (transcript or "").strip()
    _progress(submission, 50, transcription=transcript)

    result = speech_similarity(homework.expected_answer, transcript) if homework.expected_answer else None
    _progress(submission, 70, similarity_score=result.score if result else None)
    if result is not None:
        from tutorhub.learning.services import learner_event_record

        learner_event_record(
            user=student,
            kind="homework",
            topic=homework.lesson.topic or homework.title,
            score=result.score,
            source=f"courses.HomeworkSubmission:{submission.pk}",
        )

    feedback, model, error = "", "", ""
    messages = [
        {"role": "system", "content": "You are a language teacher giving short, concrete feedback on a spoken answer."},
        {
            "role": "user",
            "content": f"Task: {homework.title}\n{homework.description}\n\nExpected answer: {homework.expected_answer}\n"
            f"Student said (transcript): {transcript}\n"
            + (f"Word-level similarity: {result.score:.0%}. Missing: {result.missing}. Extra: {result.extra}." if result else ""),
        },
    ]
    context = {
        "expected": homework.expected_answer,
        "transcript": transcript,
        "similarity": result.score if result else None,
        "expected_words": result.expected_words if result else 0,
        "missing": result.missing if result else [],
        "extra": result.extra if result else [],
        "substituted": result.substituted if result else [],
    }
    try:
        with usage_scope(user=student, feature="homework_feedback"):
            completion = llm["default"].complete(messages, task="speaking_feedback", context=context)
        feedback, model = completion.text.strip(), completion.model
    except ProviderError as exc:
        logger.warning("Feedback for submission %s failed: %s", submission.pk, exc)
        error = "AI feedback is unavailable right now; the transcript and score are kept."
    _progress(submission, 100, status=Status.CHECKED, ai_feedback=feedback, ai_model_used=model, processing_error=error)
    score = f" Similarity: {result.score:.0%}." if result else ""
    notification_create(
        user=student,
        kind="homework_checked",
        title=f"Your homework “{homework.title}” was checked",
        message=f"Transcript ready.{score}",
        data={"homework_id": homework.pk, "submission_id": submission.pk, "similarity_score": result.score if result else None},
    )
    return Status.CHECKED


@transaction.atomic
def homework_review(*, submission: HomeworkSubmission, reviewer, status: str, feedback: str = "") -> HomeworkSubmission:
    """Approve or reject a submission. Approval awards the homework's coins exactly once.

    Raises Conflict (409, ALREADY_APPROVED) for a second review of an approved submission.
    """
    submission = HomeworkSubmission.objects.select_for_update().select_related("homework", "student").get(pk=submission.pk)
    if submission.status == Status.APPROVED:
        raise Conflict("This submission was already approved.", error_code="ALREADY_APPROVED")
    if status not in (Status.APPROVED, Status.REJECTED):
        raise ValidationError({"status": ["Choose approved or rejected."]})
    homework, student = submission.homework, submission.student
    submission.status, submission.teacher_feedback = status, feedback
    submission.reviewed_by, submission.reviewed_at, submission.progress_percentage = reviewer, timezone.now(), 100
    if status == Status.APPROVED and homework.coins_reward:
        entry = coins_award(
            user=student,
            amount=homework.coins_reward,
            reason=f"Homework approved: {homework.title}",
            idempotency_key=f"homework-approved:{submission.pk}",
        )
        submission.coins_awarded = entry.amount
    submission.save()
    verdict = "approved" if status == Status.APPROVED else "returned for another try"
    notification_create(
        user=student,
        kind="homework_reviewed",
        title=f"Homework “{homework.title}” {verdict}",
        message=feedback,
        data={
            "homework_id": homework.pk,
            "submission_id": submission.pk,
            "status": status,
            "coins_awarded": submission.coins_awarded,
        },
    )
    if status == Status.APPROVED:
        achievements_evaluate(user=student)
    return submission
