"""Migration homework 0002: the rows of the two old homework tables land in the one new table
with the ids their clients' links carry, and the way back restores them.

Runs the real migrations with Django's MigrationExecutor on whatever database the suite uses
(SQLite by default, PostgreSQL in CI's second run), and leaves the schema migrated to the end."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.conftest import client_for
from tutorhub.homework.models import Homework, HomeworkSubmission

OLD = [
    ("courses", "0004_homework_coins_reward_bounded"),
    ("assessments", "0005_alter_quiz_options_alter_schedulersettings_options"),
    ("homework", None),
]
WRITTEN_ID = uuid.UUID("0b5c1a52-55d5-4b8e-9a77-3d1f2f7f1e11")
QUEUED_ID = uuid.UUID("5e0f7c3e-8f0d-4a57-9a0e-2f6c1d9b4a22")
LONG_AGO = datetime.datetime(2026, 1, 5, 9, 30, tzinfo=datetime.UTC)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def _old_rows(apps) -> dict:
    User = apps.get_model("accounts", "User")
    Course = apps.get_model("courses", "Course")
    Group = apps.get_model("courses", "Group")
    Lesson = apps.get_model("courses", "Lesson")
    OldHomework = apps.get_model("courses", "Homework")
    OldRecording = apps.get_model("courses", "HomeworkSubmission")
    OldWritten = apps.get_model("assessments", "HomeworkSubmission")
    teacher = User.objects.create(username="teacher-m", role="teacher")
    student = User.objects.create(username="student-m", role="student")
    course = Course.objects.create(owner=teacher, name="Turkish")
    group = Group.objects.create(course=course, teacher=teacher, name="A1", start_date=datetime.date(2026, 1, 1),
                                 end_date=datetime.date(2026, 6, 1))
    group.students.add(student)
    lesson = Lesson.objects.create(group=group, scheduled_date=datetime.date(2026, 1, 5), start_time=datetime.time(18))
    homework = OldHomework.objects.create(id=17, lesson=lesson, title="Introduce yourself", expected_answer="Merhaba",
                                          coins_reward=15, created_by=teacher)
    approved = OldRecording.objects.create(
        id=41, homework=homework, student=student, audio_submission="homework/abc.wav", audio_format="wav",
        audio_size_bytes=1234, audio_duration_seconds=1.5, status="approved", progress_percentage=100,
        transcription="merhaba", similarity_score=0.9, ai_feedback="Good", ai_model_used="m", teacher_feedback="Great",
        reviewed_by=teacher, reviewed_at=timezone.now(), coins_awarded=15,
    )
    second = OldHomework.objects.create(id=18, lesson=lesson, title="Count to ten")
    queued = OldRecording.objects.create(id=42, homework=second, student=student, audio_submission="homework/def.ogg",
                                         audio_format="ogg", status="submitted")
    OldRecording.objects.filter(pk=41).update(created_at=LONG_AGO)  # auto_now_add set it on create
    OldWritten.objects.create(id=WRITTEN_ID, user=student, title="Essay", subject="Biology", topic="Photosynthesis",
                              text="Plants make sugar.", status="completed", progress=100, score=82.0,
                              feedback="Clear.", feedback_details={"strengths": ["clear"]}, ai_model_used="fake-gpt",
                              reviewed_at=LONG_AGO)
    OldWritten.objects.create(id=QUEUED_ID, user=student, file="homework/essay.pdf", file_name="essay.pdf",
                              status="processing", progress=10)
    return {"student": student.pk, "teacher": teacher.pk, "homework": homework.pk, "approved": approved.pk,
            "queued": queued.pk}


@pytest.mark.django_db(transaction=True)
def test_rows_of_both_old_tables_keep_their_public_ids():
    try:
        ids = _old_rows(_migrate(OLD))
        _migrate(_latest())

        assert list(Homework.objects.order_by("pk").values_list("pk", "title")) == [
            (17, "Introduce yourself"), (18, "Count to ten")
        ]
        approved = HomeworkSubmission.objects.get(pk=ids["approved"])
        assert (approved.kind, approved.homework_id, approved.student_id, approved.status) == ("audio", 17, ids["student"], "approved")
        assert approved.file.name == "homework/abc.wav" and approved.file_size_bytes == 1234 and approved.coins_awarded == 15
        assert approved.created_at == LONG_AGO and approved.similarity_score == 0.9 and approved.reviewed_by_id == ids["teacher"]
        # A check the upgrade interrupted is failed with a reason, so it can be asked for again.
        queued = HomeworkSubmission.objects.get(pk=ids["queued"])
        assert queued.status == "failed" and "ask for it again" in queued.processing_error
        written = HomeworkSubmission.objects.get(uuid=WRITTEN_ID)
        assert (written.kind, written.homework_id, written.status, written.score) == ("text", None, "completed", 82.0)
        assert written.ai_feedback == "Clear." and written.checked_at == LONG_AGO and written.topic == "Photosynthesis"
        pdf = HomeworkSubmission.objects.get(uuid=QUEUED_ID)
        assert pdf.kind == "file" and pdf.file.name == "homework/essay.pdf" and pdf.status == "failed"
        assert written.pk > ids["queued"] and pdf.pk > ids["queued"]

        # The dialects find them at the addresses they had.
        student = written.student
        body = client_for(student).get(f"/api/homework/{WRITTEN_ID}/feedback/").json()
        assert body["id"] == str(WRITTEN_ID) and body["status"] == "completed" and body["score"] == 82.0
        assert body["reviewed_at"].startswith("2026-01-05T09:30")
        teacher = approved.reviewed_by
        sub = client_for(teacher).get("/api/v1/homework/17/submissions/").json()["results"][0]
        assert sub["id"] == ids["approved"] and sub["audio_url"] == f"/api/v1/homework/submissions/{ids['approved']}/audio/"
        # New rows take ids after the copied ones (PostgreSQL's sequences were moved past them).
        fresh = HomeworkSubmission.objects.create(student=student, text="new")
        assert fresh.pk > max(written.pk, pdf.pk)
        assert Homework.objects.create(lesson=approved.homework.lesson, title="Next").pk > 18

        # The way back puts the rows into the old tables again.
        HomeworkSubmission.objects.filter(pk=fresh.pk).delete()
        apps = _migrate(OLD)
        assert set(apps.get_model("courses", "HomeworkSubmission").objects.values_list("pk", flat=True)) == {41, 42}
        assert apps.get_model("assessments", "HomeworkSubmission").objects.get(pk=WRITTEN_ID).score == 82.0
    finally:
        _migrate(_latest())
