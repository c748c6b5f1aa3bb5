"""Seed 000's learning loop: /api/quiz/generate/, /api/quiz/<id>/submit/, /api/homework/..."""

from __future__ import annotations

import io
import json

import pytest

from tests.assessments.material import FRACTIONS, PHOTOSYNTHESIS
from tests.conftest import client_for
from tutorhub.homework.models import HomeworkSubmission
from tutorhub.learning.models import LearnerEvent

pytestmark = pytest.mark.django_db

GOOD_HOMEWORK = (
    "Photosynthesis is how green plants make glucose from carbon dioxide and water using sunlight. "
    "Chlorophyll in the chloroplasts absorbs light energy, and carbon dioxide enters through the stomata. "
    "The light reactions in the thylakoid membranes release oxygen, and the Calvin cycle builds sugars in the "
    "stroma. Respiration later releases the energy stored in glucose in every living cell. "
) * 2


@pytest.fixture
def resources(user):
    from tutorhub.knowledge.services import resource_add

    resource_add(user=user, title="Fractions", content=FRACTIONS)
    resource_add(user=user, title="Photosynthesis", content=PHOTOSYNTHESIS)


def test_generate_and_submit_quiz(api_client, user, resources):
    response = api_client.post("/api/quiz/generate/", {"subject": "Mathematics", "topic": "Fractions"}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["quiz_id"] and len(data["questions"]) == 5
    for q in data["questions"]:
        assert q["correct"] in q["options"] and q["q"]
        assert q["source"]["document_title"] == "Fractions"  # grounded in the student's resource
    # Answer the first three right, the rest wrong.
    answers = [q["correct"] if i < 3 else next(o for o in q["options"] if o != q["correct"])
               for i, q in enumerate(data["questions"])]
    response = api_client.post(f"/api/quiz/{data['quiz_id']}/submit/", {"answers": answers}, format="json")
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["score"] == 60.0
    assert len(result["correct"]) + len(result["wrong"]) >= 2 and result["wrong"]
    assert result["feedback"].startswith("Good progress, revise")
    events = LearnerEvent.objects.filter(user=user, kind="quiz_answer")
    assert events.count() == 5 and {e.topic for e in events} == {"fractions"}
    assert {e.subject for e in events} == {"Mathematics"}


def test_submit_with_quiz_id_in_body(api_client, resources):
    quiz = api_client.post("/api/quiz/generate/", {"subject": "Biology", "topic": "Photosynthesis"}, format="json").json()
    answers = [q["correct"] for q in quiz["questions"]]
    response = api_client.post("/api/quiz/submit/", {"quiz_id": quiz["quiz_id"], "answers": answers}, format="json")
    assert response.status_code == 200 and response.json()["score"] == 100.0 and response.json()["wrong"] == []
    assert api_client.post("/api/quiz/submit/", {"answers": []}, format="json").status_code == 400


def test_quiz_generate_errors_and_isolation(api_client, other_user, resources):
    response = api_client.post("/api/quiz/generate/", {"subject": "Art", "topic": "Baroque sculpture"}, format="json")
    assert response.status_code == 422 and response.json()["error_code"] == "NO_MATERIAL"
    assert api_client.post("/api/quiz/generate/", {"subject": "Maths"}, format="json").status_code == 400
    quiz = api_client.post("/api/quiz/generate/", {"topic": "Fractions"}, format="json").json()
    other = client_for(other_user)
    assert other.post(f"/api/quiz/{quiz['quiz_id']}/submit/", {"answers": ["x"]}, format="json").status_code == 404
    assert other.post("/api/quiz/generate/", {"topic": "Fractions"}, format="json").status_code == 422  # not their material


def test_quiz_generate_with_fake_llm(api_client, resources, fake_openai):
    quiz = {"title": "Fractions", "questions": [
        {"question_text": "What is 1/2 + 1/4?", "options": ["1/4", "3/4", "1/2", "1"], "correct_answer": "3/4",
         "concept": "Addition of fractions", "source": 0},
    ]}
    fake_openai.push(text=json.dumps(quiz))
    data = api_client.post("/api/quiz/generate/", {"subject": "Mathematics", "topic": "Fractions"}, format="json").json()
    assert data["questions"][0] | {"q": "What is 1/2 + 1/4?", "correct": "3/4"} == data["questions"][0]
    result = api_client.post(f"/api/quiz/{data['quiz_id']}/submit/", {"answers": ["1/2"]}, format="json").json()
    assert result == result | {"score": 0.0, "correct": [], "wrong": ["Addition of fractions"]}


def test_homework_text_upload_gets_feedback(api_client, user, resources, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/homework/upload/", {"text": GOOD_HOMEWORK, "topic": "Photosynthesis",
                                                             "subject": "Biology"}, format="json")
    assert response.status_code == 201, response.content
    homework_id = response.json()["id"]
    feedback = api_client.get(f"/api/homework/{homework_id}/feedback/").json()
    assert feedback["status"] == "completed" and feedback["score"] > 70
    assert feedback["ai_model_used"] == "tutorhub-offline-homework_feedback"
    assert feedback["rubric"] and feedback["feedback"]
    assert feedback["sources"][0]["document_title"] == "Photosynthesis"
    event = LearnerEvent.objects.get(kind="homework")
    assert event.topic == "photosynthesis" and event.score == pytest.approx(feedback["score"] / 100)


def _docx_bytes(text: str) -> bytes:
    import docx

    document = docx.Document()
    for paragraph in text.split(". "):
        document.add_paragraph(paragraph)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _pdf_bytes(text: str) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    y = 800
    words = text.split()
    for i in range(0, len(words), 12):
        pdf.drawString(40, y, " ".join(words[i:i + 12]))
        y -= 16
    pdf.save()
    return buf.getvalue()


@pytest.mark.parametrize("name,maker", [("homework.docx", _docx_bytes), ("homework.pdf", _pdf_bytes),
                                        ("homework.txt", lambda t: t.encode())])
def test_homework_file_upload(api_client, resources, django_capture_on_commit_callbacks, name, maker):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(name, maker(GOOD_HOMEWORK))
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/homework/upload/", {"file": upload, "topic": "Photosynthesis"},
                                   format="multipart")
    assert response.status_code == 201, response.content
    submission = HomeworkSubmission.objects.get()
    assert "chlorophyll" in submission.text.lower() and submission.file and submission.file_name == name
    assert submission.status == "completed" and submission.score > 50


def test_homework_bad_input(api_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    assert api_client.post("/api/homework/upload/", {}, format="json").status_code == 400
    junk = SimpleUploadedFile("homework.pdf", b"\x00\x01binary junk\xff" * 20)
    response = api_client.post("/api/homework/upload/", {"file": junk}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["details"]
    assert HomeworkSubmission.objects.count() == 0


def test_homework_feedback_isolation_and_404(api_client, other_user):
    submission = HomeworkSubmission.objects.create(student=other_user, text="x")
    assert api_client.get(f"/api/homework/{submission.uuid}/feedback/").status_code == 404
    assert api_client.get("/api/homework/00000000-0000-0000-0000-000000000000/feedback/").status_code == 404


def test_homework_llm_failure_is_reported_and_retryable(api_client, resources, fake_openai, settings,
                                                         django_capture_on_commit_callbacks):
    fake_openai.push(status=500)
    with django_capture_on_commit_callbacks(execute=True):
        homework_id = api_client.post("/api/homework/upload/", {"text": GOOD_HOMEWORK}, format="json").json()["id"]
    failed = api_client.get(f"/api/homework/{homework_id}/feedback/").json()
    assert failed["status"] == "failed" and failed["error"]
    good = {"score": 82, "feedback": "Clear and accurate.", "strengths": ["accurate"], "sources": [0]}
    fake_openai.push(text=json.dumps(good))
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.post(f"/api/homework/{homework_id}/feedback/").status_code == 202
    done = api_client.get(f"/api/homework/{homework_id}/feedback/").json()
    assert done["status"] == "completed" and done["score"] == 82.0 and done["ai_model_used"] == "fake-gpt"


def test_homework_retry_only_for_failed(api_client, user):
    submission = HomeworkSubmission.objects.create(student=user, text="x", status="completed", score=50)
    response = api_client.post(f"/api/homework/{submission.uuid}/feedback/")
    assert response.status_code == 200 and response.json()["score"] == 50.0
