"""Copy the two homework tables this app replaces into its own, keeping every id the API shows:

- courses.Homework → homework.Homework with the same integer ids;
- courses.HomeworkSubmission (recordings) → homework.HomeworkSubmission with the same integer
  ids (the school dialect's links, `homework/submissions/<id>/audio/`, and the coin awards'
  idempotency keys `homework-approved:<id>` name them), kind "audio";
- assessments.HomeworkSubmission (written work, UUID-keyed) → homework.HomeworkSubmission with
  its UUID in `uuid` (the chatbot dialect's `/api/homework/<uuid>/feedback/` links) and a new
  integer id, kind "file" or "text".

A check that was queued or running when the upgrade stopped the worker belonged to a task that
no longer exists; such submissions are marked failed with a message saying to ask again (the
check restarts from "failed"). Files stay where they are: only their names are copied.
Reversible: the way back copies the rows into the old tables again.
"""

from __future__ import annotations

import contextlib

from django.core.management.color import no_style
from django.db import migrations

INTERRUPTED = "The check was interrupted by an upgrade; ask for it again."
BATCH = 500


@contextlib.contextmanager
def _stamps_kept(*models):
    """Let bulk_create write the copied created_at/updated_at: auto_now(_add) would overwrite them
    with the time of the migration. The models are this migration's historical copies."""
    fields = [f for m in models for f in m._meta.fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for f in fields:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, now, now_add in saved:
            f.auto_now, f.auto_now_add = now, now_add


def _copy(source_qs, target, convert) -> None:
    batch = []
    for row in source_qs.order_by("pk").iterator(chunk_size=BATCH):
        batch.append(target(**convert(row)))
        if len(batch) == BATCH:
            target.objects.bulk_create(batch)
            batch = []
    if batch:
        target.objects.bulk_create(batch)


def _reset_sequences(schema_editor, *models) -> None:
    """Rows were inserted with explicit ids: move PostgreSQL's sequences past them (SQLite's
    AUTOINCREMENT counter follows explicit ids by itself; its list is empty)."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), list(models)):
            cursor.execute(sql)


def _assignment(h) -> dict:
    """An assignment's fields: the same in both tables (each way keeps the id)."""
    names = ("id", "created_at", "updated_at", "lesson_id", "title", "description", "expected_answer", "language",
             "due_date", "coins_reward", "created_by_id")
    return {name: getattr(h, name) for name in names}


def _in_flight(status: str) -> bool:
    return status in ("submitted", "processing")


def forward(apps, schema_editor):
    OldHomework = apps.get_model("courses", "Homework")
    OldRecording = apps.get_model("courses", "HomeworkSubmission")
    OldWritten = apps.get_model("assessments", "HomeworkSubmission")
    Homework = apps.get_model("homework", "Homework")
    Submission = apps.get_model("homework", "HomeworkSubmission")

    with _stamps_kept(Homework, Submission):
        _copy(OldHomework.objects.all(), Homework, _assignment)
        _copy(OldRecording.objects.all(), Submission, lambda s: {
            "id": s.pk, "created_at": s.created_at, "updated_at": s.updated_at, "homework_id": s.homework_id,
            "student_id": s.student_id, "kind": "audio", "file": s.audio_submission.name,
            "file_name": f"recording.{s.audio_format}" if s.audio_format else "",
            "file_size_bytes": s.audio_size_bytes, "audio_format": s.audio_format,
            "audio_duration_seconds": s.audio_duration_seconds,
            "status": "failed" if _in_flight(s.status) else s.status,
            "progress_percentage": 100 if _in_flight(s.status) else s.progress_percentage,
            "processing_error": INTERRUPTED if _in_flight(s.status) else s.processing_error,
            "transcription": s.transcription, "similarity_score": s.similarity_score, "ai_feedback": s.ai_feedback,
            "ai_model_used": s.ai_model_used, "teacher_feedback": s.teacher_feedback,
            "reviewed_by_id": s.reviewed_by_id, "reviewed_at": s.reviewed_at, "coins_awarded": s.coins_awarded,
        })
        _reset_sequences(schema_editor, Homework, Submission)
        _copy(OldWritten.objects.all(), Submission, lambda w: {
            "uuid": w.pk, "created_at": w.created_at, "updated_at": w.updated_at, "student_id": w.user_id,
            "kind": "file" if w.file else "text", "title": w.title, "subject": w.subject, "topic": w.topic,
            "text": w.text, "file": w.file.name, "file_name": w.file_name, "file_extracted": w.file_extracted,
            "status": "failed" if _in_flight(w.status) else w.status,
            "progress_percentage": 100 if _in_flight(w.status) else w.progress,
            "processing_error": INTERRUPTED if _in_flight(w.status) else w.error,
            "score": w.score, "ai_feedback": w.feedback, "feedback_details": w.feedback_details,
            "ai_model_used": w.ai_model_used, "checked_at": w.reviewed_at,
        })


def backward(apps, schema_editor):
    OldHomework = apps.get_model("courses", "Homework")
    OldRecording = apps.get_model("courses", "HomeworkSubmission")
    OldWritten = apps.get_model("assessments", "HomeworkSubmission")
    Homework = apps.get_model("homework", "Homework")
    Submission = apps.get_model("homework", "HomeworkSubmission")

    with _stamps_kept(OldHomework, OldRecording, OldWritten):
        _copy(Homework.objects.all(), OldHomework, _assignment)
        # The old recording table needs an assignment: work of another kind for an assignment
        # (possible only after the merge) has no place there and is left out.
        _copy(Submission.objects.filter(kind="audio", homework__isnull=False), OldRecording, lambda s: {
            "id": s.pk, "created_at": s.created_at, "updated_at": s.updated_at, "homework_id": s.homework_id,
            "student_id": s.student_id, "audio_submission": s.file.name, "audio_format": s.audio_format,
            "audio_size_bytes": s.file_size_bytes, "audio_duration_seconds": s.audio_duration_seconds,
            "status": "checked" if s.status == "completed" else s.status,
            "progress_percentage": s.progress_percentage, "transcription": s.transcription,
            "similarity_score": s.similarity_score, "ai_feedback": s.ai_feedback, "ai_model_used": s.ai_model_used,
            "processing_error": s.processing_error, "teacher_feedback": s.teacher_feedback,
            "reviewed_by_id": s.reviewed_by_id, "reviewed_at": s.reviewed_at, "coins_awarded": s.coins_awarded,
        })
        _copy(Submission.objects.filter(homework__isnull=True).exclude(kind="audio"), OldWritten, lambda w: {
            "id": w.uuid, "created_at": w.created_at, "updated_at": w.updated_at, "user_id": w.student_id,
            "title": w.title, "subject": w.subject, "topic": w.topic, "text": w.text, "file": w.file.name,
            "file_name": w.file_name, "file_extracted": w.file_extracted,
            "status": {"submitted": "processing", "checked": "completed"}.get(w.status, w.status),
            "progress": w.progress_percentage, "score": w.score, "feedback": w.ai_feedback,
            "feedback_details": w.feedback_details, "ai_model_used": w.ai_model_used, "error": w.processing_error,
            "reviewed_at": w.checked_at,
        })
        _reset_sequences(schema_editor, OldHomework, OldRecording)


class Migration(migrations.Migration):
    dependencies = [
        ("homework", "0001_initial"),
        ("courses", "0004_homework_coins_reward_bounded"),
        ("assessments", "0005_alter_quiz_options_alter_schedulersettings_options"),
    ]

    operations = [migrations.RunPython(forward, backward)]
