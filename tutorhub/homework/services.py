"""Homework use cases: assigning, handing in (written, a file, or a recording), the background
check, the teacher's review.

The check (task `homework_submission_check_task`, progress in `progress_percentage`) depends on
what was handed in:
- written work (text, or a file whose text the extraction sandbox reads) is marked against the
  student's own material by the AI (`assessments.services.ai.homework_feedback_generate`);
- a recording is transcribed (speech-to-text interface), compared with the assignment's expected
  answer (`homework.similarity`) and given spoken-answer feedback (LLM task "speaking_feedback").
Either way the score becomes learner-model evidence.
"""

from __future__ import annotations

import logging
import os

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError

from tutorhub.ai import llm, speech, usage_scope
from tutorhub.ai.base import ProviderError
from tutorhub.assessments.services.ai import homework_feedback_generate, material_gather
from tutorhub.core.exceptions import Conflict, ServiceError
from tutorhub.core.uploads import upload_too_large
from tutorhub.courses.audio import inspect_audio
from tutorhub.courses.models import Lesson
from tutorhub.courses.services.groups import lesson_students_notify
from tutorhub.engagement.services import achievements_evaluate, coins_award, notification_create
from tutorhub.homework.models import Homework, HomeworkSubmission
from tutorhub.homework.similarity import speech_similarity
from tutorhub.knowledge.extraction import ExtractionError, sniff
from tutorhub.knowledge.sandbox import extract_sandboxed
from tutorhub.knowledge.tasks import fair_priority
from tutorhub.learning.services import learner_event_record

logger = logging.getLogger(__name__)
Status = HomeworkSubmission.Status
Kind = HomeworkSubmission.Kind
MAX_HOMEWORK_CHARS = 40_000
# Statuses the check may (re)start from: queued, or failed and asked for again.
CHECKABLE = (Status.SUBMITTED, Status.FAILED)


# --- assignments ----------------------------------------------------------------------------------
@transaction.atomic
def homework_create(*, lesson: Lesson, created_by, data: dict) -> Homework:
    homework = Homework(lesson=lesson, created_by=created_by, **data)
    homework.full_clean()
    homework.save()
    lesson_students_notify(
        lesson=lesson, kind="homework_assigned", title=f"New homework: {homework.title}", data={"homework_id": homework.pk}
    )
    return homework


def homework_delete(*, homework: Homework) -> None:
    """Delete an assignment with its submissions (their files go with the rows)."""
    homework.delete()


@transaction.atomic
def homework_update(*, homework: Homework, data: dict) -> Homework:
    for name, value in data.items():
        setattr(homework, name, value)
    homework.full_clean()
    homework.save()
    return homework


# --- handing in -----------------------------------------------------------------------------------
def _file_check(upload) -> None:
    """Refuse a written-work file that is too large, empty or of no supported type. Only the cheap
    content sniff runs here; the text is extracted later by the worker, in the extraction
    sandbox, so a hostile file never holds a web request."""
    limit = settings.HOMEWORK_MAX_UPLOAD_BYTES
    if upload.size > limit:
        raise upload_too_large(limit)
    if not upload.size:
        raise ValidationError({"file": ["The file is empty."]})
    upload.seek(0)
    data = upload.read(limit + 1)
    upload.seek(0)
    try:
        sniff(data, upload.name or "")
    except ExtractionError as exc:
        raise ValidationError({"file": [str(exc)]}) from None


def _recording_check(audio):
    """The recording's bytes and AudioInfo (format sniffed from the bytes, size and duration limits)."""
    max_bytes = settings.HOMEWORK_AUDIO_MAX_BYTES
    if audio.size > max_bytes:
        raise upload_too_large(max_bytes, "audio file")
    data = audio.read()
    return data, inspect_audio(data, max_bytes=max_bytes, max_seconds=settings.HOMEWORK_AUDIO_MAX_SECONDS)


def _assigned_row(*, homework: Homework, student) -> HomeworkSubmission:
    """The student's row for an assignment, locked (new if none). Raises PermissionDenied for a
    user outside the group, Conflict when the homework was already approved."""
    if not homework.lesson.group.students.filter(pk=student.pk).exists():
        raise PermissionDenied("Only students of this group can submit this homework.")
    submission = HomeworkSubmission.objects.select_for_update().filter(homework=homework, student=student).first()
    if submission and submission.status == Status.APPROVED:
        raise Conflict("This homework was already approved; it cannot be resubmitted.", error_code="ALREADY_APPROVED")
    if submission is None:
        return HomeworkSubmission(homework=homework, student=student)
    if submission.file:
        old_name, storage = submission.file.name, submission.file.storage
        transaction.on_commit(lambda: storage.delete(old_name))
    # A resubmission starts over: nothing of the earlier attempt's check or review is kept.
    fresh = HomeworkSubmission(homework=homework, student=student)
    for field in HomeworkSubmission._meta.concrete_fields:
        if field.name not in {"id", "uuid", "homework", "student", "created_at"}:
            setattr(submission, field.attname, getattr(fresh, field.attname))
    return submission


def homework_submit(
    *, student, homework: Homework | None = None, text: str = "", upload=None, audio=None,
    title: str = "", subject: str = "", topic: str = "",
) -> HomeworkSubmission:
    """Hand in work — a recording (`audio`), a file (`upload`, with optional `text`) or `text` —
    for an assignment (`homework`; a resubmission replaces the earlier one) or on the student's
    own (with its title/subject/topic). Queues the check and returns at once, status "submitted"
    (re-read after commit: with an immediate task backend the check has already run).

    Raises ValidationError for no work or bad work (unsupported, damaged or too long a
    recording, an unreadable file), 413 for an oversized file, PermissionDenied when the
    student is not in the assignment's group, Conflict when the assignment was already approved.
    """
    with transaction.atomic():
        submission = _store(student=student, homework=homework, text=text, upload=upload, audio=audio,
                            title=title, subject=subject, topic=topic)
    submission.refresh_from_db()
    return submission


def _store(*, student, homework, text, upload, audio, title, subject, topic) -> HomeworkSubmission:
    text = text.strip()[:MAX_HOMEWORK_CHARS]
    recording = info = None
    if audio is not None:
        recording, info = _recording_check(audio)
    elif upload is not None:
        _file_check(upload)
    elif not text:
        raise ValidationError({"text": ["Send the homework as text or as a file with readable text."]})
    if homework is not None:
        submission = _assigned_row(homework=homework, student=student)
    else:
        submission = HomeworkSubmission(student=student, title=title or (upload.name if upload else "")[:200],
                                        subject=subject, topic=topic)
    submission.text = text
    if recording is not None:
        submission.kind, submission.audio_format = Kind.AUDIO, info.format
        submission.audio_duration_seconds, submission.file_size_bytes = info.duration_seconds, len(recording)
        # Only the extension survives: the stored name is random (PrivateUploadTo).
        submission.file_name = f"recording.{info.format}"
        submission.file.save(submission.file_name, ContentFile(recording), save=False)
    elif upload is not None:
        submission.kind, submission.file_name, submission.file_size_bytes = Kind.FILE, (upload.name or "")[:255], upload.size
        submission.file.save(upload.name, upload, save=False)
    else:
        submission.kind = Kind.TEXT
    submission.save()
    if homework is not None and homework.lesson.group.teacher is not None:
        notification_create(
            user=homework.lesson.group.teacher,
            kind="homework_submitted",
            title=f"{student.get_full_name() or student.username} submitted “{homework.title}”",
            data={"homework_id": homework.pk, "submission_id": submission.pk, "student_id": student.pk},
        )
    _enqueue_check(submission)
    return submission


def _enqueue_check(submission: HomeworkSubmission) -> None:
    """Queue the check after commit, behind other students' first submissions when this student
    already has some in flight (see `fair_priority`): one student's pile of files cannot starve
    the others."""
    from tutorhub.homework.tasks import homework_submission_check_task  # the tasks module imports this one

    def enqueue() -> None:
        in_flight = HomeworkSubmission.objects.filter(
            student_id=submission.student_id, status__in=[Status.SUBMITTED, Status.PROCESSING],
            created_at__lt=submission.created_at,
        ).count()
        homework_submission_check_task.using(priority=fair_priority(in_flight)).enqueue(submission.pk)

    transaction.on_commit(enqueue)


def homework_check_retry(*, submission: HomeworkSubmission) -> tuple[HomeworkSubmission, bool]:
    """Queue a failed submission's check again (its file's extraction too, if that failed).
    Returns the submission and whether it was queued: anything but a failure is left as it is
    (done, or already queued)."""
    with transaction.atomic():
        queued = bool(HomeworkSubmission.objects.filter(pk=submission.pk, status=Status.FAILED).update(
            status=Status.SUBMITTED, processing_error="", progress_percentage=0, updated_at=timezone.now()
        ))
        if queued:
            _enqueue_check(submission)
    submission.refresh_from_db()
    return submission, queued


# --- the check ------------------------------------------------------------------------------------
def _progress(submission: HomeworkSubmission, percentage: int, **fields) -> None:
    """Save a step's results unless a teacher reviewed the submission meanwhile."""
    fields["progress_percentage"] = percentage
    for name, value in fields.items():
        setattr(submission, name, value)
    HomeworkSubmission.objects.filter(pk=submission.pk, status=Status.PROCESSING).update(
        updated_at=timezone.now(), **fields
    )


def homework_submission_process(*, submission_id: int) -> str:
    """Check one submission (see the module docstring). Returns the final status, or "skipped"
    when it is not waiting for a check. A failure is stored (status "failed" and a message the
    student can act on), not raised, except an unexpected error, which is stored and re-raised."""
    with transaction.atomic():
        submission = (
            # Only the submission's row is locked (PostgreSQL cannot lock the nullable side of the
            # outer join to an assignment).
            HomeworkSubmission.objects.select_for_update(of=("self",))
            .select_related("homework__lesson__group", "student")
            .filter(pk=submission_id, status__in=CHECKABLE)
            .first()
        )
        if submission is None:
            return "skipped"
        submission.status, submission.progress_percentage = Status.PROCESSING, 10
        submission.save(update_fields=["status", "progress_percentage", "updated_at"])
    if submission.kind == Kind.AUDIO:
        return _check_recording(submission)
    return _check_written(submission)


def _finish(submission: HomeworkSubmission, **fields) -> str:
    """Store the check's results: CHECKED when a teacher reviews next, COMPLETED for own work."""
    status = Status.CHECKED if submission.homework_id else Status.COMPLETED
    _progress(submission, 100, status=status, checked_at=timezone.now(), **fields)
    return status


def _read_file(submission: HomeworkSubmission) -> None:
    """Append the file's text to the submission's text (once: a retry after a failed AI call
    does not extract again). Raises ServiceError PROCESSING_FAILED with the reason."""
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
        raise ServiceError("The homework file has no readable text.", error_code="PROCESSING_FAILED", status_code=422)
    _progress(submission, 25, text=body, file_extracted=True)


def _check_written(submission: HomeworkSubmission) -> str:
    homework = submission.homework
    topic, subject = submission.topic, submission.subject
    if homework is not None:  # an assignment is about its lesson
        topic = topic or homework.lesson.topic or homework.title
    try:
        if submission.file and not submission.file_extracted:
            _read_file(submission)
        query = " ".join(x for x in (topic, subject) if x) or submission.text[:500]
        material = material_gather(user=submission.student, query=query, k=5)
        _progress(submission, 40)
        data, model = homework_feedback_generate(
            user=submission.student, submission=submission.text, topic=topic or subject, material=material
        )
    except APIException as exc:  # refusals and provider failures: the student is told why
        logger.info("feedback for homework submission %s failed: %s", submission.pk, exc)
        _progress(submission, 100, status=Status.FAILED, processing_error=str(exc.detail))
        return Status.FAILED
    except Exception:
        _progress(submission, 100, status=Status.FAILED, processing_error="Feedback could not be generated.")
        raise  # unexpected: the worker logs the traceback
    sources = [material[i].source() or {"document_title": material[i].document_title}
               for i in data.pop("sources") if 0 <= i < len(material)]
    with transaction.atomic():
        status = _finish(
            submission, score=round(data["score"], 1), ai_feedback=data["feedback"],
            feedback_details={**data, "sources": sources}, ai_model_used=model, processing_error="",
        )
        learner_event_record(
            user=submission.student, kind="homework", topic=topic or subject or submission.title,
            score=submission.score / 100, subject=subject, source=f"homework.HomeworkSubmission:{submission.pk}",
        )
    if homework is not None:
        _notify_checked(submission, message=f"Feedback ready. Score: {submission.score:.0f}/100.")
    return status


def _check_recording(submission: HomeworkSubmission) -> str:
    """Provider failures do not raise: a failed transcription marks the submission failed with a
    clear message (the student can resubmit); failed feedback keeps the transcript and score."""
    homework, student = submission.homework, submission.student
    with submission.file.open("rb") as fh:
        audio = fh.read()
    try:
        with usage_scope(user=student, feature="homework_transcription"):
            transcript = speech["default"].transcribe(
                audio,
                filename=os.path.basename(submission.file.name),
                content_type=f"audio/{submission.audio_format}",
                language=(homework.language if homework else "") or None,
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

    expected = homework.expected_answer if homework else ""
    result = speech_similarity(expected, transcript) if expected else None
    _progress(submission, 70, similarity_score=result.score if result else None)
    if result is not None:
        learner_event_record(
            user=student,
            kind="homework",
            topic=homework.lesson.topic or homework.title,
            score=result.score,
            source=f"homework.HomeworkSubmission:{submission.pk}",
        )
    feedback, model, error = _speaking_feedback(submission, transcript, result)
    status = _finish(submission, ai_feedback=feedback, ai_model_used=model, processing_error=error)
    if homework is not None:
        score = f" Similarity: {result.score:.0%}." if result else ""
        _notify_checked(submission, message=f"Transcript ready.{score}",
                        similarity_score=result.score if result else None)
    return status


def _speaking_feedback(submission: HomeworkSubmission, transcript: str, result) -> tuple[str, str, str]:
    """(feedback, model, error) on a spoken answer; a provider failure is the error, not raised."""
    homework = submission.homework
    title, description, expected = (homework.title, homework.description, homework.expected_answer) if homework else (
        submission.title, "", ""
    )
    messages = [
        {"role": "system", "content": "You are a language teacher giving short, concrete feedback on a spoken answer."},
        {
            "role": "user",
            "content": f"Task: {title}\n{description}\n\nExpected answer: {expected}\n"
            f"Student said (transcript): {transcript}\n"
            + (f"Word-level similarity: {result.score:.0%}. Missing: {result.missing}. Extra: {result.extra}." if result else ""),
        },
    ]
    context = {
        "expected": expected,
        "transcript": transcript,
        "similarity": result.score if result else None,
        "expected_words": result.expected_words if result else 0,
        "missing": result.missing if result else [],
        "extra": result.extra if result else [],
        "substituted": result.substituted if result else [],
    }
    try:
        with usage_scope(user=submission.student, feature="homework_feedback"):
            completion = llm["default"].complete(messages, task="speaking_feedback", context=context)
    except ProviderError as exc:
        logger.warning("Feedback for submission %s failed: %s", submission.pk, exc)
        return "", "", "AI feedback is unavailable right now; the transcript and score are kept."
    return completion.text.strip(), completion.model, ""


def _notify_checked(submission: HomeworkSubmission, *, message: str, **data) -> None:
    homework = submission.homework
    notification_create(
        user=submission.student,
        kind="homework_checked",
        title=f"Your homework “{homework.title}” was checked",
        message=message,
        data={"homework_id": homework.pk, "submission_id": submission.pk, **data},
    )


# --- the teacher's review -------------------------------------------------------------------------
@transaction.atomic
def homework_review(*, submission: HomeworkSubmission, reviewer, status: str, feedback: str = "") -> HomeworkSubmission:
    """Approve or reject a submission. Approval awards the homework's coins exactly once.

    Raises Conflict (409, ALREADY_APPROVED) for a second review of an approved submission.
    """
    submission = (
        HomeworkSubmission.objects.select_for_update(of=("self",)).select_related("homework", "student").get(pk=submission.pk)
    )
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
