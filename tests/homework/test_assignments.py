from __future__ import annotations

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.courses.audio_samples import espeak_wav, m4a, mp3_frames, ogg_from_wav, silent_wav, webm
from tutorhub.courses.models import Lesson
from tutorhub.courses.services import schedule_create
from tutorhub.engagement.models import CoinTransaction, Notification
from tutorhub.homework.models import Homework, HomeworkSubmission
from tutorhub.homework.services import homework_create
from tutorhub.learning.models import LearnerEvent

pytestmark = pytest.mark.django_db
EXPECTED = "Merhaba, benim adım Ali. Ben öğrenciyim."


@pytest.fixture
def lesson(school) -> Lesson:
    schedule_create(group=school.group, day_of_week=0, start_time=datetime.time(18), duration_minutes=90)
    lesson = Lesson.objects.filter(group=school.group).order_by("scheduled_date").first()
    lesson.topic = "Introducing yourself"
    lesson.save()
    return lesson


@pytest.fixture
def homework(school, lesson) -> Homework:
    return homework_create(
        lesson=lesson, created_by=school.teacher, data={"title": "Introduce yourself", "expected_answer": EXPECTED, "coins_reward": 15}
    )


@pytest.fixture
def offline_llm(settings):
    settings.LLM_BACKENDS = {"default": {"BACKEND": "tutorhub.ai.backends.offline.OfflineLLM", "OPTIONS": {}}}


def upload(data: bytes, name: str = "answer.wav", content_type: str = "audio/wav"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def submit(client, homework, data: bytes, name: str = "answer.wav"):
    return client.post(f"/api/v1/homework/{homework.pk}/submit/", {"audio_submission": upload(data, name)}, format="multipart")


# --- assigning ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role,expected", [("admin", 201), ("teacher", 201), ("other_teacher", 400), ("student", 403), ("other_student", 400), ("parent", 403)]
)
def test_assign_homework_matrix(school, lesson, role, expected):
    body = {"lesson": lesson.pk, "title": "Read aloud", "expected_answer": "hello world", "coins_reward": 5}
    resp = school.client(role).post("/api/v1/homework/", body, format="json")
    assert resp.status_code == expected, resp.json()
    if expected == 201:
        assert Notification.objects.filter(user=school.student, kind="homework_assigned").exists()


@pytest.mark.parametrize(
    "role,count", [("admin", 1), ("teacher", 1), ("other_teacher", 0), ("student", 1), ("other_student", 0), ("parent", 1)]
)
def test_homework_lists_matrix(school, homework, lesson, role, count):
    client = school.client(role)
    assert client.get(f"/api/v1/homework/?student={school.student.pk}").json()["count"] == count
    by_lesson = client.get(f"/api/v1/homework/lesson/{lesson.pk}/")
    assert by_lesson.status_code == (200 if count else 404)


# --- submitting: formats, limits ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name,make,fmt",
    [
        ("a.wav", lambda tmp: silent_wav(1.0), "wav"),
        ("a.mp3", lambda tmp: mp3_frames(), "mp3"),
        ("a.ogg", lambda tmp: ogg_from_wav(_wav_file(tmp), tmp / "a.ogg"), "ogg"),
        ("a.webm", lambda tmp: webm(), "webm"),
        ("a.m4a", lambda tmp: m4a(), "m4a"),
    ],
)
def test_submit_accepts_supported_formats(school, homework, fake_openai, offline_llm, tmp_path, run_on_commit, name, make, fmt):
    fake_openai.transcript = EXPECTED
    resp = run_on_commit(submit, school.client("student"), homework, make(tmp_path), name)
    assert resp.status_code == 202, resp.json()
    sub = HomeworkSubmission.objects.get()
    assert sub.audio_format == fmt and sub.status == "checked" and sub.similarity_score == 1.0


def _wav_file(tmp):
    path = tmp / "src.wav"
    path.write_bytes(silent_wav(1.0))
    return path


@pytest.mark.parametrize(
    "data,name",
    [
        (b"just some text, not audio at all", "notes.wav"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "photo.mp3"),
        (b"", "empty.wav"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt broken", "broken.wav"),
    ],
)
def test_submit_rejects_unsupported_or_broken_audio(school, homework, data, name):
    resp = submit(school.client("student"), homework, data, name)
    assert resp.status_code == 400
    assert "audio_submission" in resp.json()["details"]
    assert not HomeworkSubmission.objects.exists()


def test_submit_enforces_size_and_duration_limits(school, homework, settings):
    settings.HOMEWORK_AUDIO_MAX_SECONDS = 1
    resp = submit(school.client("student"), homework, silent_wav(2.0))
    assert resp.status_code == 400 and "limit is 1 s" in str(resp.json()["details"])
    settings.HOMEWORK_AUDIO_MAX_SECONDS = 300
    settings.HOMEWORK_AUDIO_MAX_BYTES = 1000
    resp = submit(school.client("student"), homework, silent_wav(1.0))
    assert resp.status_code == 413 and resp.json()["error_code"] == "FILE_TOO_LARGE" and "larger" in resp.json()["detail"]
    assert not HomeworkSubmission.objects.exists()


@pytest.mark.parametrize(
    "role,expected", [("admin", 403), ("teacher", 403), ("other_teacher", 404), ("student", 202), ("other_student", 404), ("parent", 403)]
)
def test_submit_matrix(school, homework, fake_openai, role, expected):
    assert submit(school.client(role), homework, silent_wav(0.5)).status_code == expected


def test_submit_requires_file(school, homework):
    resp = school.client("student").post(f"/api/v1/homework/{homework.pk}/submit/", {}, format="multipart")
    assert resp.status_code == 400


def test_transcription_failure_is_kept_and_resubmission_works(school, homework, fake_openai, offline_llm, run_on_commit):
    for _ in range(3):  # the SDK's own retries fail too
        fake_openai.push(status=500)
    resp = run_on_commit(submit, school.client("student"), homework, silent_wav(0.5))
    assert resp.status_code == 202
    sub = HomeworkSubmission.objects.get()
    assert sub.status == "failed" and "unavailable" in sub.processing_error
    assert "500" not in sub.processing_error  # upstream text never reaches the client
    fake_openai.transcript = EXPECTED
    run_on_commit(submit, school.client("student"), homework, silent_wav(0.5))
    sub.refresh_from_db()
    assert sub.status == "checked" and sub.similarity_score == 1.0 and sub.processing_error == ""
    assert HomeworkSubmission.objects.count() == 1


def test_feedback_failure_keeps_transcript_and_score(school, homework, fake_openai, run_on_commit, settings):
    fake_openai.transcript = "merhaba benim adım Ali"
    # The model endpoint is down (nothing listens on port 9); transcription still works.
    options = {"base_url": "http://127.0.0.1:9/v1", "api_key": "x", "timeout": 2.0, "max_retries": 0, "model": "m"}
    settings.LLM_BACKENDS = {"default": {"BACKEND": "tutorhub.ai.backends.openai.OpenAILLM", "OPTIONS": options}}
    run_on_commit(submit, school.client("student"), homework, silent_wav(0.5))
    sub = HomeworkSubmission.objects.get()
    assert sub.status == "checked" and sub.transcription == "merhaba benim adım Ali"
    assert sub.similarity_score == pytest.approx(1 - 2 / 6, abs=1e-4)
    assert sub.ai_feedback == "" and "unavailable" in sub.processing_error


def test_offline_feedback_names_missing_words_and_feeds_learner_model(school, homework, fake_openai, offline_llm, run_on_commit):
    fake_openai.transcript = "Merhaba benim adım Veli"
    run_on_commit(submit, school.client("student"), homework, silent_wav(0.5))
    sub = HomeworkSubmission.objects.get()
    assert sub.ai_model_used == "tutorhub-offline-speaking_feedback"
    assert "“ben”" in sub.ai_feedback and "“öğrenciyim”" in sub.ai_feedback and "“veli” instead of “ali”" in sub.ai_feedback
    event = LearnerEvent.objects.get(user=school.student)
    assert event.kind == "homework" and event.topic == "introducing yourself"
    assert event.score == pytest.approx(sub.similarity_score) and event.source == f"homework.HomeworkSubmission:{sub.pk}"
    status = school.client("student").get(f"/api/v1/homework/{homework.pk}/submission/").json()
    assert status["progress_percentage"] == 100 and status["status"] == "checked"


# --- review ----------------------------------------------------------------------------------


@pytest.fixture
def checked(school, homework, fake_openai, offline_llm, run_on_commit):
    fake_openai.transcript = EXPECTED
    run_on_commit(submit, school.client("student"), homework, silent_wav(0.5))
    return HomeworkSubmission.objects.get()


@pytest.mark.parametrize(
    "role,expected", [("admin", 200), ("teacher", 200), ("other_teacher", 404), ("student", 403), ("other_student", 404), ("parent", 403)]
)
def test_review_matrix(school, homework, checked, role, expected):
    resp = school.client(role).post(f"/api/v1/homework/{homework.pk}/review/", {"status": "approved", "feedback": "Great work!"}, format="json")
    assert resp.status_code == expected


def test_duplicate_approval_awards_coins_once(school, homework, checked):
    url = f"/api/v1/homework/{homework.pk}/review/"
    first = school.client("teacher").post(url, {"status": "approved", "feedback": "Great work!"}, format="json")
    assert first.status_code == 200 and first.json()["coins_awarded"] == 15
    second = school.client("teacher").post(url, {"status": "approved", "feedback": "again"}, format="json")
    assert second.status_code == 409 and second.json()["error_code"] == "ALREADY_APPROVED"
    school.student.refresh_from_db()
    assert CoinTransaction.objects.filter(idempotency_key=f"homework-approved:{checked.pk}").count() == 1
    # 15 for the homework + 5 "first homework" + 10 "perfect pronunciation" (similarity 1.0).
    assert school.student.coins == 30
    assert set(school.student.achievements.values_list("code", flat=True)) == {"first_homework", "perfect_pronunciation"}
    # An approved submission cannot be replaced.
    assert submit(school.client("student"), homework, silent_wav(0.5)).status_code == 409


def test_reject_then_resubmit(school, homework, checked, run_on_commit):
    url = f"/api/v1/homework/{homework.pk}/review/"
    resp = school.client("teacher").post(url, {"status": "rejected", "feedback": "Say it slower"}, format="json")
    assert resp.status_code == 200 and resp.json()["coins_awarded"] == 0
    assert Notification.objects.filter(user=school.student, kind="homework_reviewed", data__status="rejected").exists()
    assert run_on_commit(submit, school.client("student"), homework, silent_wav(0.5)).status_code == 202


def test_review_bad_input(school, homework, checked):
    url = f"/api/v1/homework/{homework.pk}/review/"
    teacher = school.client("teacher")
    assert teacher.post(url, {"status": "maybe"}, format="json").status_code == 400
    assert teacher.post(url, {"status": "approved", "student": school.other_student.pk}, format="json").status_code == 400


def test_homework_list_embeds_the_students_submission_without_n_plus_one(school, homework, checked, lesson, django_assert_max_num_queries):
    for i in range(5):
        homework_create(lesson=lesson, created_by=school.teacher, data={"title": f"Extra {i}"})
    client = school.client("teacher")
    with django_assert_max_num_queries(6):
        body = client.get(f"/api/v1/homework/?student={school.student.pk}").json()
    assert body["count"] == 6
    mine = next(h for h in body["results"] if h["id"] == homework.pk)
    assert mine["submission"]["student"] == school.student.pk and mine["submissions_count"] == 1


def test_espeak_recording_is_accepted_with_its_duration(school, homework, fake_openai, offline_llm, tmp_path, run_on_commit):
    data = espeak_wav(EXPECTED, tmp_path / "answer.wav")
    fake_openai.transcript = EXPECTED
    run_on_commit(submit, school.client("student"), homework, data)
    sub = HomeworkSubmission.objects.get()
    assert 1.0 < sub.audio_duration_seconds < 10.0
    path, form = next(r for r in fake_openai.requests if r[0].endswith("/audio/transcriptions"))
    assert form  # the real client uploaded the recording


def test_review_names_the_student_when_several_submitted(school, homework, checked, fake_openai, run_on_commit):
    run_on_commit(submit, school.client("classmate"), homework, silent_wav(0.5))
    url = f"/api/v1/homework/{homework.pk}/review/"
    teacher = school.client("teacher")
    assert teacher.post(url, {"status": "approved"}, format="json").status_code == 400
    resp = teacher.post(url, {"status": "approved", "student": school.classmate.pk}, format="json")
    assert resp.status_code == 200 and resp.json()["student"] == school.classmate.pk
    assert HomeworkSubmission.objects.get(student=school.student).status == "checked"
    listed = teacher.get(f"/api/v1/homework/{homework.pk}/submissions/").json()
    assert listed["count"] == 2
    # A student lists only their own submission.
    assert school.client("student").get(f"/api/v1/homework/{homework.pk}/submissions/").json()["count"] == 1
