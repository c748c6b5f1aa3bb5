"""The audio homework loop end to end: an espeak-ng recording is submitted over HTTP, transcribed by
the fake speech-to-text server, scored and given feedback in the background, reviewed by the
teacher; the coins and the notifications appear, including live on ws/notifications/."""

from __future__ import annotations

import asyncio
import datetime

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rest_framework_simplejwt.tokens import RefreshToken

from tests.conftest import client_for
from tests.courses.audio_samples import espeak_wav
from tests.factories import GroupFactory, UserFactory
from tutorhub.asgi import application
from tutorhub.courses.models import Lesson
from tutorhub.courses.services import schedule_create
from tutorhub.homework.models import HomeworkSubmission
from tutorhub.homework.services import homework_create

EXPECTED = "Hello, my name is Ali and I am a student."


def _setup():
    teacher = UserFactory(role="teacher")
    student = UserFactory(role="student")
    group = GroupFactory(teacher=teacher)
    group.students.set([student])
    schedule_create(group=group, day_of_week=0, start_time=datetime.time(18), duration_minutes=90)
    lesson = Lesson.objects.filter(group=group).first()
    homework = homework_create(
        lesson=lesson, created_by=teacher, data={"title": "Introduce yourself", "expected_answer": EXPECTED, "coins_reward": 10}
    )
    return teacher, student, homework, str(RefreshToken.for_user(student).access_token)


async def _drain(communicator, *, until_kind: str, timeout: float = 5.0) -> list[dict]:
    received = []
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        received.append(message)
        if message.get("kind") == until_kind:
            return received


@pytest.mark.django_db(transaction=True)
async def test_audio_homework_loop_end_to_end(fake_openai, settings, tmp_path):
    settings.LLM_BACKENDS = {"default": {"BACKEND": "tutorhub.ai.backends.offline.OfflineLLM", "OPTIONS": {}}}
    teacher, student, homework, token = await database_sync_to_async(_setup)()
    wav = await asyncio.to_thread(espeak_wav, EXPECTED, tmp_path / "answer.wav")
    # The fake Whisper hears the student drop one word and swap another.
    fake_openai.transcript = "Hello my name is Ali and I am student"

    communicator = WebsocketCommunicator(application, f"/ws/notifications/?token={token}")
    connected, _ = await communicator.connect()
    assert connected
    hello = await communicator.receive_json_from()
    assert hello["type"] == "connected"

    def submit():
        upload = SimpleUploadedFile("answer.wav", wav, content_type="audio/wav")
        return client_for(student).post(
            f"/api/v1/homework/{homework.pk}/submit/", {"audio_submission": upload}, format="multipart"
        )

    resp = await database_sync_to_async(submit)()
    assert resp.status_code == 202, resp.json()
    checked = await _drain(communicator, until_kind="homework_checked")
    assert checked[-1]["data"]["similarity_score"] == pytest.approx(1 - 1 / 10)

    sub = await database_sync_to_async(HomeworkSubmission.objects.get)()
    assert sub.status == "checked" and sub.transcription == fake_openai.transcript
    assert sub.similarity_score == pytest.approx(0.9)
    assert "Missing words: “a”" in sub.ai_feedback
    transcription_calls = [r for r in fake_openai.requests if r[0].endswith("/audio/transcriptions")]
    assert len(transcription_calls) == 1

    def review():
        return client_for(teacher).post(
            f"/api/v1/homework/{homework.pk}/review/", {"status": "approved", "feedback": "Great work!"}, format="json"
        )

    resp = await database_sync_to_async(review)()
    assert resp.status_code == 200 and resp.json()["coins_awarded"] == 10
    live = await _drain(communicator, until_kind="homework_reviewed")
    kinds = [m["kind"] for m in live]
    assert "coins_awarded" in kinds
    reviewed = live[-1]
    assert reviewed["type"] == "notification" and reviewed["data"]["coins_awarded"] == 10
    assert reviewed["notification"]["title"] == "Homework “Introduce yourself” approved"

    def coins_and_notifications():
        client = client_for(student)
        return client.get("/api/v1/gamification/coins/me/").json(), client.get("/api/v1/notifications/").json()

    coins, notifications = await database_sync_to_async(coins_and_notifications)()
    assert coins["balance"] == 15  # 10 for the homework + 5 for the "first homework" achievement
    assert [t["amount"] for t in coins["results"]] == [5, 10]
    assert {"homework_checked", "homework_reviewed", "coins_awarded", "achievement_earned"} <= {
        n["kind"] for n in notifications["results"]
    }

    # Marking read over the socket works as well.
    await communicator.send_json_to({"action": "mark_read", "id": reviewed["id"]})
    while (answer := await communicator.receive_json_from())["type"] == "notification":
        pass
    assert answer == {"type": "marked_read", "id": reviewed["id"]}
    await communicator.disconnect()
    await database_sync_to_async(lambda: connection.close())()  # the worker thread's connection, so the test DB can be dropped


@pytest.mark.django_db(transaction=True)
async def test_notification_socket_rejects_anonymous():
    communicator = WebsocketCommunicator(application, "/ws/notifications/")
    connected, code = await communicator.connect()
    assert not connected and code == 4401
