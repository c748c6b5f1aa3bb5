from __future__ import annotations

import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from docx import Document as DocxDocument

from tests.fakes.openai_server import silent_wav
from tutorhub.courses.models import Lesson, LessonResource
from tutorhub.courses.services import schedule_create
from tutorhub.engagement.models import Notification

pytestmark = pytest.mark.django_db
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def make_docx(text: str) -> bytes:
    doc = DocxDocument()
    doc.add_heading("Lesson 1: greetings", level=1)
    doc.add_paragraph(text)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


@pytest.fixture
def lesson(school) -> Lesson:
    schedule_create(group=school.group, day_of_week=0, start_time=datetime.time(18), duration_minutes=90)
    return Lesson.objects.filter(group=school.group).first()


def upload(client, lesson, data: bytes, name: str, **extra):
    return client.post(
        "/api/v1/resources/", {"lesson": lesson.pk, "file": SimpleUploadedFile(name, data), **extra}, format="multipart"
    )


@pytest.mark.parametrize(
    "role,expected", [("admin", 201), ("teacher", 201), ("other_teacher", 400), ("student", 403), ("other_student", 400), ("parent", 403)]
)
def test_upload_matrix(school, lesson, role, expected):
    resp = upload(school.client(role), lesson, make_docx("Merhaba means hello."), "greetings.docx", title="Greetings")
    assert resp.status_code == expected, resp.json()


def test_upload_detects_types_from_content(school, lesson):
    teacher = school.client("teacher")
    doc = upload(teacher, lesson, make_docx("Merhaba means hello."), "greetings.docx").json()
    assert doc["resource_type"] == "document" and doc["content_type"] == DOCX and doc["title"] == "greetings"
    audio = upload(teacher, lesson, silent_wav(0.5), "dialogue.wav", title="Dialogue").json()
    assert audio["resource_type"] == "audio" and audio["content_type"] == "audio/wav"
    html = upload(teacher, lesson, b"<script>alert(1)</script>", "evil.html").json()
    assert html["resource_type"] == "other" and html["content_type"] == "application/octet-stream"
    assert Notification.objects.filter(user=school.student, kind="lesson_resource_added").count() == 3


def test_upload_bad_input(school, lesson, settings):
    teacher = school.client("teacher")
    assert upload(teacher, lesson, b"", "empty.txt").status_code == 400
    settings.LESSON_RESOURCE_MAX_BYTES = 10
    big = upload(teacher, lesson, b"x" * 100, "big.txt")
    assert big.status_code == 413 and big.json()["error_code"] == "FILE_TOO_LARGE"
    assert teacher.post("/api/v1/resources/", {"lesson": lesson.pk}, format="multipart").status_code == 400
    assert not LessonResource.objects.exists()


@pytest.mark.parametrize(
    "role,expected", [("admin", 200), ("teacher", 200), ("other_teacher", 404), ("student", 200), ("other_student", 404), ("parent", 404)]
)
def test_download_matrix_streams_with_headers(school, lesson, role, expected):
    data = make_docx("Merhaba means hello.")
    resource_id = upload(school.client("teacher"), lesson, data, "Greetings A1.docx").json()["id"]
    resp = school.client(role).get(f"/api/v1/resources/{resource_id}/download/")
    assert resp.status_code == expected
    if expected == 200:
        assert resp["Content-Type"] == DOCX
        assert resp["Content-Disposition"] == 'attachment; filename="Greetings A1.docx"'
        assert b"".join(resp.streaming_content) == data


def test_audio_can_stream_inline_and_list_by_lesson(school, lesson):
    resource_id = upload(school.client("teacher"), lesson, silent_wav(0.5), "dialogue.wav").json()["id"]
    resp = school.client("student").get(f"/api/v1/resources/{resource_id}/download/?inline=1")
    assert resp["Content-Type"] == "audio/wav" and resp["Content-Disposition"].startswith("inline")
    listed = school.client("student").get(f"/api/v1/resources/lesson/{lesson.pk}/").json()
    assert [r["id"] for r in listed["results"]] == [resource_id]
    assert listed["results"][0]["download_url"] == f"/api/v1/resources/{resource_id}/download/"
    assert school.client("other_student").get(f"/api/v1/resources/lesson/{lesson.pk}/").status_code == 404


def test_delete_by_teacher_only(school, lesson):
    resource_id = upload(school.client("teacher"), lesson, silent_wav(0.5), "dialogue.wav").json()["id"]
    assert school.client("student").delete(f"/api/v1/resources/{resource_id}/").status_code == 403
    assert school.client("teacher").delete(f"/api/v1/resources/{resource_id}/").status_code == 204
    assert not LessonResource.objects.exists()


def test_documents_are_indexed_into_the_course_for_its_students(school, lesson, run_on_commit):
    from tutorhub.knowledge.models import Document

    resp = run_on_commit(
        upload, school.client("teacher"), lesson, make_docx("Merhaba means hello in Turkish."), "greetings.docx"
    )
    document_id = resp.json()["knowledge_document_id"]
    assert document_id
    document = Document.objects.get(pk=document_id)
    assert document.course_id == school.group.course_id
    # Knowledge documents are visible through their course: the group's student sees the course, others do not.
    from tutorhub.courses.selectors import course_ids_visible

    assert Document.objects.filter(pk=document_id, course__in=course_ids_visible(user=school.student)).exists()
    assert not Document.objects.filter(pk=document_id, course__in=course_ids_visible(user=school.other_student)).exists()
    # ... and through the knowledge API's course document list.
    url = f"/api/v1/courses/{school.group.course_id}/documents/"
    assert document_id in [d["id"] for d in school.client("student").get(url).json()["results"]]
    assert school.client("other_student").get(url).status_code in (403, 404)
    # Audio is served but not indexed.
    audio = upload(school.client("teacher"), lesson, silent_wav(0.5), "dialogue.wav").json()
    assert audio["knowledge_document_id"] is None
