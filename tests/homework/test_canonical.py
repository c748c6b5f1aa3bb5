"""The canonical homework API serves every kind of work: written work handed in on one's own
(`homework/submissions/`), written work for an assignment (`homework/{id}/submit/` with text),
recordings; one list shows them all, to whoever may see each."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.fakes.openai_server import silent_wav
from tutorhub.courses.models import Lesson
from tutorhub.courses.services import schedule_create
from tutorhub.engagement.models import CoinTransaction
from tutorhub.homework.models import HomeworkSubmission
from tutorhub.homework.services import homework_create
from tutorhub.knowledge.services import resource_add

pytestmark = pytest.mark.django_db
ESSAY = (
    "Photosynthesis is how green plants make glucose from carbon dioxide and water using sunlight. "
    "Chlorophyll in the chloroplasts absorbs light energy, and the Calvin cycle builds sugars in the stroma. "
) * 3
NOTES = (
    "Photosynthesis: green plants make glucose from carbon dioxide and water using sunlight. Chlorophyll in the "
    "chloroplasts absorbs light energy; the Calvin cycle in the stroma builds sugars and oxygen is released. "
) * 4
SUBMISSIONS = "/api/v1/homework/submissions/"


@pytest.fixture
def homework(school):
    schedule_create(group=school.group, day_of_week=0, start_time=datetime.time(18), duration_minutes=90)
    lesson = Lesson.objects.filter(group=school.group).order_by("scheduled_date").first()
    lesson.topic = "Photosynthesis"
    lesson.save()
    return homework_create(lesson=lesson, created_by=school.teacher, data={"title": "Explain photosynthesis", "coins_reward": 5})


@pytest.fixture
def material(school):
    resource_add(user=school.student, title="Photosynthesis", content=NOTES)


def test_own_written_work_gets_ai_feedback(school, material, run_on_commit):
    student = school.client("student")
    resp = run_on_commit(student.post, SUBMISSIONS, {"text": ESSAY, "topic": "Photosynthesis"}, format="json")
    assert resp.status_code == 201, resp.json()
    created = resp.json()
    assert created["kind"] == "text" and created["homework"] is None and created["uuid"]
    body = student.get(f"{SUBMISSIONS}{created['id']}/").json()
    # Own work is not reviewed by anyone: the check completes it.
    assert body["status"] == "completed" and body["progress_percentage"] == 100 and body["score"] > 50
    assert body["ai_model_used"] == "tutorhub-offline-homework_feedback" and body["ai_feedback"] and body["rubric"]
    assert body["sources"][0]["document_title"] == "Photosynthesis"
    # The chatbot dialect shows the same row under its uuid.
    assert student.get(f"/api/homework/{created['uuid']}/feedback/").json()["score"] == body["score"]
    # Nobody else sees it: not the teacher, not the parent (it is not an assignment).
    for role in ("teacher", "parent", "other_student"):
        assert school.client(role).get(f"{SUBMISSIONS}{created['id']}/").status_code == 404


def test_written_answer_to_an_assignment_is_checked_then_reviewed(school, homework, material, run_on_commit):
    resp = run_on_commit(school.client("student").post, f"/api/v1/homework/{homework.pk}/submit/", {"text": ESSAY}, format="json")
    assert resp.status_code == 202, resp.json()
    sub = HomeworkSubmission.objects.get()
    assert sub.kind == "text" and sub.status == "checked" and sub.score > 50 and sub.checked_at
    teacher = school.client("teacher")
    listed = teacher.get(SUBMISSIONS).json()
    assert [(r["id"], r["kind"]) for r in listed["results"]] == [(sub.pk, "text")]
    resp = teacher.post(f"/api/v1/homework/{homework.pk}/review/", {"status": "approved"}, format="json")
    assert resp.status_code == 200 and resp.json()["coins_awarded"] == 5
    assert CoinTransaction.objects.get(user=school.student, reason__startswith="Homework approved").amount == 5


def test_submit_needs_some_work(school, homework):
    resp = school.client("student").post(f"/api/v1/homework/{homework.pk}/submit/", {"text": "  "}, format="json")
    assert resp.status_code == 400 and "audio_submission" in resp.json()["details"]
    assert school.client("student").post(SUBMISSIONS, {}, format="json").status_code == 400
    assert not HomeworkSubmission.objects.exists()


def test_one_list_of_every_kind_in_constant_queries(school, homework, fake_openai, run_on_commit):
    def add(n: int) -> None:
        for _ in range(n):
            HomeworkSubmission.objects.create(student=school.student, text="notes", status="completed", score=60)

    run_on_commit(school.client("student").post, f"/api/v1/homework/{homework.pk}/submit/",
                  {"audio_submission": _wav()}, format="multipart")
    add(1)
    client = school.client("student")

    def list_queries() -> tuple[int, list]:
        with CaptureQueriesContext(connection) as ctx:
            body = client.get(SUBMISSIONS).json()
        return len(ctx.captured_queries), body["results"]

    few, results = list_queries()
    assert sorted(r["kind"] for r in results) == ["audio", "text"]
    audio = next(r for r in results if r["kind"] == "audio")
    assert audio["audio_url"] == audio["file_url"] == f"/api/v1/homework/submissions/{audio['id']}/audio/"
    add(8)
    many, results = list_queries()
    assert len(results) == 10 and many == few  # no query per row


def test_a_failed_check_can_be_asked_for_again(school, material, fake_openai, run_on_commit):
    fake_openai.push(status=500)
    student = school.client("student")
    created = run_on_commit(student.post, SUBMISSIONS, {"text": ESSAY}, format="json").json()
    failed = student.get(f"{SUBMISSIONS}{created['id']}/").json()
    assert failed["status"] == "failed" and failed["processing_error"]
    assert school.client("other_student").post(f"{SUBMISSIONS}{created['id']}/check/").status_code == 404
    fake_openai.push(text='{"score": 75, "feedback": "Fine.", "strengths": [], "improvements": [], '
                          '"missing_concepts": [], "rubric": [], "sources": []}')
    resp = run_on_commit(student.post, f"{SUBMISSIONS}{created['id']}/check/")
    assert resp.status_code == 202
    done = student.get(f"{SUBMISSIONS}{created['id']}/").json()
    assert done["status"] == "completed" and done["score"] == 75.0 and done["ai_model_used"] == "fake-gpt"
    assert student.post(f"{SUBMISSIONS}{created['id']}/check/").status_code == 200  # nothing to redo


def _wav():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("a.wav", silent_wav(), content_type="audio/wav")
