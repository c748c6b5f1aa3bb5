"""Issue 11 (private files, stored XSS through uploads) and issue 12 (no file without a row).

Uploaded files are served only by permission-checked views (the same visibility as their API
objects), under random names, never as active content of this origin; /media/ is not routed.
"""

from __future__ import annotations

import datetime
import importlib
import io
import os
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import clear_url_caches
from PIL import Image

from tests.conftest import client_for
from tests.courses import fixtures as course_fixtures
from tests.factories import CourseFactory, UserFactory
from tests.fakes.openai_server import silent_wav
from tutorhub.core.files import PrivateFileSystemStorage, orphan_files_delete
from tutorhub.courses.models import Lesson, LessonResource
from tutorhub.courses.services import schedule_create
from tutorhub.homework.models import Homework, HomeworkSubmission
from tutorhub.homework.services import homework_create

pytestmark = pytest.mark.django_db
school = course_fixtures.school  # shared fixtures: one school, outsiders for the matrix
run_on_commit = course_fixtures.run_on_commit

HTML = b"<!doctype html><html><body><p>Photosynthesis makes sugar from light.</p><script>alert(document.cookie)</script></body></html>"
RANDOM_NAME = re.compile(r"^[a-z_]+/[0-9a-f]{32}(\.[a-z0-9]{1,8})?$")


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_not_active(response):
    """Whatever the file is, the browser must not run it as a page of this origin."""
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert "html" not in response["Content-Type"] and "svg" not in response["Content-Type"]


@pytest.fixture
def lesson(school) -> Lesson:
    schedule_create(group=school.group, day_of_week=0, start_time=datetime.time(18), duration_minutes=90)
    return Lesson.objects.filter(group=school.group).order_by("scheduled_date").first()


@pytest.fixture
def homework(school, lesson) -> Homework:
    return homework_create(lesson=lesson, created_by=school.teacher, data={"title": "Read aloud", "expected_answer": "Merhaba"})


@pytest.fixture
def wav() -> bytes:
    return silent_wav(1.0)  # 32,044 bytes


@pytest.fixture
def submission(school, homework, wav) -> HomeworkSubmission:
    resp = school.client("student").post(
        f"/api/v1/homework/{homework.pk}/submit/",
        {"audio_submission": SimpleUploadedFile("my answer.wav", wav, content_type="audio/wav")},
        format="multipart",
    )
    assert resp.status_code == 202, resp.json()
    return HomeworkSubmission.objects.get(pk=resp.json()["id"])


def resource_upload(client, lesson, data: bytes, name: str):
    return client.post("/api/v1/resources/", {"lesson": lesson.pk, "file": SimpleUploadedFile(name, data)}, format="multipart")


def png_upload() -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", (20, 10), (0, 90, 200)).save(buf, format="PNG")
    return SimpleUploadedFile("shot.png", buf.getvalue(), content_type="image/png")


# --- /media/ is not routed --------------------------------------------------------------------
@pytest.mark.parametrize("debug", [False, True])
def test_media_is_not_served_even_in_debug(settings, anon_client, submission, debug):
    import tutorhub.urls

    settings.DEBUG = debug
    importlib.reload(tutorhub.urls)  # the URLconf is built once; rebuild it under this DEBUG
    clear_url_caches()
    try:
        stored = submission.file.name
        assert default_storage.exists(stored)
        for path in (f"/media/{stored}", "/media/", "/media/anything.txt"):
            response = anon_client.get(path)
            assert response.status_code == 404
            assert b"RIFF" not in content(response)
        # Logged in as the owner makes no difference: there is no /media/ route at all.
        assert client_for(submission.student).get(f"/media/{stored}").status_code == 404
    finally:
        settings.DEBUG = False
        importlib.reload(tutorhub.urls)
        clear_url_caches()


# --- who may download what ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "role,expected",
    [("student", 200), ("parent", 200), ("teacher", 200), ("admin", 200),
     ("classmate", 404), ("other_student", 404), ("other_teacher", 404)],
)
def test_homework_audio_follows_submission_visibility(school, submission, wav, role, expected):
    url = f"/api/v1/homework/submissions/{submission.pk}/audio/"
    response = school.client(role).get(url)
    assert response.status_code == expected
    if expected == 200:
        assert content(response) == wav
        assert response["Content-Type"] == "audio/wav" and response["Content-Disposition"].startswith("inline")
        assert_not_active(response)
    else:
        assert response.json()["error_code"] == "RESOURCE_NOT_FOUND"


def test_homework_audio_anonymous_and_unknown(anon_client, school, submission):
    assert anon_client.get(f"/api/v1/homework/submissions/{submission.pk}/audio/").status_code == 401
    assert school.client("student").get("/api/v1/homework/submissions/999999/audio/").status_code == 404


def test_audio_url_key_points_at_the_checked_download(school, homework, submission):
    body = school.client("student").get(f"/api/v1/homework/{homework.pk}/submission/").json()
    assert body["audio_url"] == f"/api/v1/homework/submissions/{submission.pk}/audio/"
    assert "/media/" not in str(body)


def test_lesson_resource_html_is_an_attachment_of_opaque_bytes(school, lesson):
    resource_id = resource_upload(school.client("teacher"), lesson, HTML, "notes.html").json()["id"]
    for query in ("", "?inline=1"):
        response = school.client("student").get(f"/api/v1/resources/{resource_id}/download/{query}")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"] == 'attachment; filename="notes.html"'
        assert_not_active(response)
        assert content(response) == HTML
    assert school.client("other_student").get(f"/api/v1/resources/{resource_id}/download/").status_code == 404


def test_even_a_stored_html_content_type_is_not_served_as_html(school, lesson):
    """Rows written before the upload sniffing (or by the admin) may say text/html or SVG."""
    resource_id = resource_upload(school.client("teacher"), lesson, HTML, "notes.html").json()["id"]
    for declared in ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/javascript"):
        LessonResource.objects.filter(pk=resource_id).update(content_type=declared)
        response = school.client("student").get(f"/api/v1/resources/{resource_id}/download/?inline=1")
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment")
        assert_not_active(response)


def test_seed000_html_homework_is_private_and_never_html(api_client, user, other_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            "/api/homework/upload/",
            {"file": SimpleUploadedFile("x.html", HTML, content_type="text/html"), "text": "Photosynthesis uses light.",
             "topic": "Photosynthesis"},
            format="multipart",
        )
    assert response.status_code == 201, response.content
    homework_id = response.json()["id"]
    file_url = api_client.get(f"/api/homework/{homework_id}/feedback/").json()["file_url"]
    assert file_url == f"/api/v1/assessments/homework/{homework_id}/file/"
    for query in ("", "?inline=1"):
        download = api_client.get(file_url + query)
        assert download.status_code == 200
        assert download["Content-Type"] == "application/octet-stream"
        assert download["Content-Disposition"] == 'attachment; filename="x.html"'
        assert_not_active(download)
        assert content(download) == HTML
    assert client_for(other_user).get(file_url).status_code == 404
    assert client_for(other_user).get(file_url.replace(homework_id, "00000000-0000-0000-0000-000000000000")).status_code == 404


def test_document_download_follows_document_visibility(api_client, user, other_user):
    text = b"Mitochondria are the powerhouse of the cell.\n" * 5
    response = api_client.post(
        "/api/v1/knowledge/documents/upload/", {"file": SimpleUploadedFile("cells.txt", text)}, format="multipart"
    )
    assert response.status_code in (201, 202), response.content
    doc_id = response.json()["document"]["id"]
    detail = api_client.get(f"/api/v1/knowledge/documents/{doc_id}/").json()
    assert detail["download_url"] == f"/api/v1/knowledge/documents/{doc_id}/download/"
    download = api_client.get(detail["download_url"])
    assert download.status_code == 200 and content(download) == text
    assert download["Content-Type"] == "text/plain" and download["Content-Disposition"] == 'attachment; filename="cells.txt"'
    assert_not_active(download)
    assert client_for(other_user).get(detail["download_url"]).status_code == 404


def test_course_document_download_for_the_group_students_only(db):
    teacher, student, outsider = UserFactory(role="teacher"), UserFactory(), UserFactory()
    course = CourseFactory(owner=teacher)
    from tests.factories import GroupFactory

    GroupFactory(teacher=teacher, course=course).students.add(student)
    response = client_for(teacher).post(
        f"/api/v1/courses/{course.pk}/documents/upload/",
        {"file": SimpleUploadedFile("syllabus.md", b"# Syllabus\n\nWeek 1: cells.\n")},
        format="multipart",
    )
    assert response.status_code in (201, 202), response.content
    doc_id = response.json()["document"]["id"]
    url = f"/api/v1/courses/{course.pk}/documents/{doc_id}/download/"
    assert client_for(student).get(url).status_code == 200
    assert client_for(outsider).get(url).status_code == 404


def test_feedback_screenshot_for_author_and_admins(api_client, user, other_user, admin_client):
    response = api_client.post(
        "/api/v1/accounts/feedback/",
        {"feedback_type": "bug_report", "subject": "Button", "message": "See", "screenshot": png_upload()},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    feedback_id = response.json()["id"]
    url = f"/api/v1/accounts/feedback/{feedback_id}/screenshot/"
    assert response.json()["screenshot"] == f"http://testserver{url}"  # absolute, as DRF's ImageField gave
    for client in (api_client, admin_client):
        download = client.get(url)
        assert download.status_code == 200 and download["Content-Type"] == "image/png"
        assert content(download).startswith(b"\x89PNG")
        assert_not_active(download)
    assert client_for(other_user).get(url).status_code == 404
    no_shot = api_client.post(
        "/api/v1/accounts/feedback/", {"feedback_type": "general", "subject": "s", "message": "m"}, format="json"
    ).json()
    assert no_shot["screenshot"] is None
    assert api_client.get(f"/api/v1/accounts/feedback/{no_shot['id']}/screenshot/").status_code == 404


# --- Range -------------------------------------------------------------------------------------
def test_range_requests_on_a_wav(school, submission, wav):
    client, url = school.client("student"), f"/api/v1/homework/submissions/{submission.pk}/audio/"
    size = len(wav)
    full = client.get(url)
    assert full.status_code == 200 and full["Accept-Ranges"] == "bytes" and full["Content-Length"] == str(size)

    part = client.get(url, HTTP_RANGE="bytes=100-1099")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-1099/{size}" and part["Content-Length"] == "1000"
    assert content(part) == wav[100:1100]
    assert part["Content-Type"] == "audio/wav" and part["X-Content-Type-Options"] == "nosniff"

    tail = client.get(url, HTTP_RANGE="bytes=-44")
    assert tail.status_code == 206 and content(tail) == wav[-44:] and tail["Content-Range"] == f"bytes {size - 44}-{size - 1}/{size}"
    open_ended = client.get(url, HTTP_RANGE=f"bytes={size - 10}-")
    assert open_ended.status_code == 206 and content(open_ended) == wav[-10:]
    clipped = client.get(url, HTTP_RANGE=f"bytes=0-{size * 2}")
    assert clipped.status_code == 206 and content(clipped) == wav and clipped["Content-Range"] == f"bytes 0-{size - 1}/{size}"

    unsatisfiable = client.get(url, HTTP_RANGE=f"bytes={size}-")
    assert unsatisfiable.status_code == 416 and unsatisfiable["Content-Range"] == f"bytes */{size}"
    assert unsatisfiable.json()["error_code"] == "RANGE_NOT_SATISFIABLE"

    # Malformed, several ranges, or a stale If-Range: the whole file (RFC 9110 allows it).
    for headers in ({"HTTP_RANGE": "bytes=5-1"}, {"HTTP_RANGE": "bytes=0-1,5-6"}, {"HTTP_RANGE": "items=0-1"},
                    {"HTTP_RANGE": "bytes=0-9", "HTTP_IF_RANGE": '"stale"'}):
        whole = client.get(url, **headers)
        assert whole.status_code == 200 and content(whole) == wav
    fresh = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=full["ETag"])
    assert fresh.status_code == 206 and content(fresh) == wav[:10]


def test_range_is_checked_after_permission(school, submission):
    response = school.client("other_student").get(
        f"/api/v1/homework/submissions/{submission.pk}/audio/", HTTP_RANGE="bytes=0-10"
    )
    assert response.status_code == 404


# --- X-Accel-Redirect --------------------------------------------------------------------------
def test_accel_redirect_hands_the_bytes_to_nginx_after_the_check(school, submission, settings):
    settings.PRIVATE_FILES_ACCEL_REDIRECT_PREFIX = "/protected/"
    url = f"/api/v1/homework/submissions/{submission.pk}/audio/"
    response = school.client("student").get(url)
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected/{submission.file.name}"
    assert response.content == b""
    assert response["Content-Type"] == "audio/wav" and response["X-Content-Type-Options"] == "nosniff"
    assert school.client("other_student").get(url).status_code == 404


# --- names ---------------------------------------------------------------------------------------
def test_stored_names_are_random(school, submission, lesson, api_client, user):
    resource_upload(school.client("teacher"), lesson, b"Lesson notes", "lesson-notes.txt")
    api_client.post(
        "/api/v1/accounts/feedback/",
        {"feedback_type": "bug_report", "subject": "s", "message": "m", "screenshot": png_upload()},
        format="multipart",
    )
    from tutorhub.learning.models import Feedback

    names = [
        submission.file.name,
        LessonResource.objects.get().file.name,
        Feedback.objects.get().screenshot.name,
    ]
    for name in names:
        assert RANDOM_NAME.match(name), name
        assert "lesson-notes" not in name and f"u{school.student.pk}_" not in name and "2026" not in name
    assert LessonResource.objects.get().original_filename == "lesson-notes.txt"  # kept for display only
    assert len({n.rsplit("/", 1)[1] for n in names}) == len(names)


# --- no file without a row -----------------------------------------------------------------------
def test_default_storage_undoes_files_of_rolled_back_transactions():
    assert isinstance(default_storage, PrivateFileSystemStorage)


def test_upload_whose_db_write_fails_leaves_no_file(school, lesson, monkeypatch):
    from tutorhub.courses.services import resources

    def fail(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(resources, "lesson_students_notify", fail)
    upload = SimpleUploadedFile("notes.txt", b"Lesson notes")
    with pytest.raises(RuntimeError):
        resources.lesson_resource_upload(lesson=lesson, uploaded_by=school.teacher, upload=upload)
    assert not LessonResource.objects.exists()
    assert list(Path(default_storage.location).rglob("*.*")) == []


def test_failed_homework_submit_request_leaves_no_file(school, homework, wav, monkeypatch):
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    from tutorhub.homework import services as homework_services

    def fail(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(homework_services, "notification_create", fail)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(school.student).access_token}")
    response = client.post(
        f"/api/v1/homework/{homework.pk}/submit/",
        {"audio_submission": SimpleUploadedFile("a.wav", wav, content_type="audio/wav")},
        format="multipart",
    )
    assert response.status_code == 500
    assert not HomeworkSubmission.objects.exists()
    assert list(Path(default_storage.location).rglob("*.wav")) == []


def test_savepoint_rollback_deletes_only_its_own_files(run_on_commit):
    def work():
        kept = default_storage.save("homework/kept.txt", ContentFile(b"kept"))
        with pytest.raises(ValueError), transaction.atomic():
            dropped = default_storage.save("homework/dropped.txt", ContentFile(b"dropped"))
            assert default_storage.exists(dropped)
            raise ValueError
        assert not default_storage.exists(dropped)
        return kept

    kept = run_on_commit(work)
    assert default_storage.exists(kept)  # committed: stays


def test_orphan_sweep_removes_old_unreferenced_files_only(school, submission):
    root = Path(default_storage.location)
    old = time.time() - 2 * 3600
    orphan = root / "homework" / "0123456789abcdef0123456789abcdef.wav"
    fresh_orphan = root / "homework" / "fedcba9876543210fedcba9876543210.wav"
    orphan.write_bytes(b"RIFF orphan")
    fresh_orphan.write_bytes(b"RIFF in flight")
    os.utime(orphan, (old, old))
    referenced = root / submission.file.name
    os.utime(referenced, (old, old))

    assert orphan_files_delete(older_than=timedelta(hours=1)) == 1
    assert not orphan.exists()
    assert fresh_orphan.exists() and referenced.exists()
    assert orphan_files_delete(older_than=timedelta(hours=1)) == 0


def test_orphan_sweep_is_a_periodic_job():
    from tutorhub.core.scheduler import registered_jobs

    jobs = {job.task.module_path: job for job in registered_jobs().values()}
    job = jobs["tutorhub.core.tasks.orphan_files_delete_task"]
    assert job.every <= timedelta(hours=1)
    assert job.task.call() == 0  # nothing to do on an empty media folder


def test_rows_stored_under_the_old_guessable_names_still_download(school, submission, wav):
    """Names are random from now on; files stored before keep their path and keep working."""
    legacy = f"homework/2026/11/hw{submission.homework_id}_u{school.student.pk}_20261129231259.wav"
    stored = default_storage.save(legacy, ContentFile(wav))
    HomeworkSubmission.objects.filter(pk=submission.pk).update(file=stored)
    url = f"/api/v1/homework/submissions/{submission.pk}/audio/"
    response = school.client("teacher").get(url)
    assert response.status_code == 200 and content(response) == wav
    assert school.client("teacher").head(url).status_code == 200
    assert school.client("other_student").get(url).status_code == 404
    assert client_for(school.student).get(f"/media/{stored}").status_code == 404


def test_a_row_whose_file_is_gone_is_a_404_not_a_500(school, submission):
    default_storage.delete(submission.file.name)
    response = school.client("student").get(f"/api/v1/homework/submissions/{submission.pk}/audio/")
    assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_NOT_FOUND"
