"""BOLA matrix over every object route of the OpenAPI schema (issue 11).

The routes come from drf-spectacular's generator, so a new route with a path parameter is
covered the moment it exists: the test for it fails until OBJECT_FACTORIES says how to build
the object it names (or PUBLIC_BY_DESIGN says why it has no owner). For each route and method,
the owner's objects (a student, in a group with its teacher, with a parent) are requested by
another student, a teacher of another group, a parent of another child and an anonymous client:
each must get 401, 403 or 404, never a success, and nothing may change. A positive control
checks that the owner (or the owner's teacher, or an admin) does reach the object, so the
matrix cannot pass because the factory built the wrong thing.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable
from functools import cache

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import client_for
from tests.factories import CourseFactory, GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

METHODS = ("get", "put", "patch", "delete", "post")
DENIED = {401, 403, 404}

# Routes with a path parameter that name no user-owned object.
PUBLIC_BY_DESIGN = {
    "/api/v1/billing/webhooks/{provider}/": "a payment processor's endpoint, authenticated by its signature",
}


# The smallest valid PNG (1x1, grey): feedback screenshots are images.
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a49444154789c63600000000200015e2d8a3b0000000049454e44ae426082"
)


class World:
    """The owner's side: a student in a group (with its teacher and the student's parent),
    and the people who must not reach any of it. Objects are built lazily, once per test."""

    def __init__(self):
        self.owner = UserFactory(role="student")
        self.teacher = UserFactory(role="teacher")
        self.parent = UserFactory(role="parent")
        self.admin = UserFactory(role="admin", is_staff=True)
        from tutorhub.accounts.models import ParentChildLink

        self.link = ParentChildLink.objects.create(parent=self.parent, child=self.owner)
        self.course = CourseFactory(owner=self.owner)
        self.group = GroupFactory(teacher=self.teacher, start_date=datetime.date(2026, 1, 5), end_date=datetime.date(2026, 3, 30))
        self.group.students.set([self.owner])
        # The attackers: another student in another group, that group's teacher, that student's parent.
        self.other_student = UserFactory(role="student")
        self.other_teacher = UserFactory(role="teacher")
        self.other_parent = UserFactory(role="parent")
        ParentChildLink.objects.create(parent=self.other_parent, child=self.other_student)
        other_group = GroupFactory(teacher=self.other_teacher)
        other_group.students.set([self.other_student])
        self._built: dict[str, object] = {}

    def once(self, key: str, build: Callable[[], object]):
        if key not in self._built:
            self._built[key] = build()
        return self._built[key]

    # --- objects -------------------------------------------------------------------------
    def chat_session(self):
        from tutorhub.chat.models import ChatSession

        return self.once("chat", lambda: ChatSession.objects.create(owner=self.owner, title="Owner's chat"))

    def chat_pair(self):
        from tutorhub.chat.models import Message

        def build():
            question = Message.objects.create(session=self.chat_session(), role="user", content="What is light?")
            Message.objects.create(session=self.chat_session(), role="assistant", content="A wave.", reply_to=question)
            return question

        return self.once("pair", build)

    def tutoring(self):
        from tutorhub.chat.models import TutoringSession

        return self.once("tutoring", lambda: TutoringSession.objects.create(user=self.owner, title="Optics"))

    def document(self):
        from tutorhub.knowledge.models import Document

        return self.once("document", lambda: Document.objects.create(
            owner=self.owner, course=self.course, name="Owner's notes", processing_status="completed",
            file=ContentFile(b"private notes", name="notes.txt"), extracted_text="private notes",
        ))

    def chunk(self):
        from tutorhub.knowledge.models import Chunk

        return self.once("chunk", lambda: Chunk.objects.create(document=self.document(), position=0, text="private notes"))

    def flashcard(self):
        from tutorhub.assessments.models import Flashcard

        return self.once("flashcard", lambda: Flashcard.objects.create(user=self.owner, question="Q?", answer="A"))

    def quiz(self):
        from tutorhub.assessments.models import Quiz

        return self.once("quiz", lambda: Quiz.objects.create(owner=self.owner, title="Owner's quiz"))

    def quiz_attempt(self):
        from tutorhub.assessments.models import QuizAttempt

        return self.once("attempt", lambda: QuizAttempt.objects.create(quiz=self.quiz(), user=self.owner, started_at=timezone.now()))

    def assessment(self):
        from tutorhub.assessments.models import Assessment

        return self.once("assessment", lambda: Assessment.objects.create(owner=self.owner, title="Midterm"))

    def seed000_homework(self):
        from tutorhub.homework.models import HomeworkSubmission

        return self.once("hw000", lambda: HomeworkSubmission.objects.create(
            student=self.owner, kind="file", file=ContentFile(b"my essay", name="essay.txt")
        ))

    def feedback(self):
        from tutorhub.learning.models import Feedback

        return self.once("feedback", lambda: Feedback.objects.create(
            user=self.owner, subject="Bug", message="It broke", screenshot=ContentFile(_PNG, name="screen.png")
        ))

    def schedule(self):
        from tutorhub.courses.models import Schedule

        return self.once("schedule", lambda: Schedule.objects.create(group=self.group, day_of_week=0, start_time=datetime.time(10)))

    def lesson(self):
        from tutorhub.courses.models import Lesson

        return self.once("lesson", lambda: Lesson.objects.create(
            group=self.group, scheduled_date=datetime.date(2026, 1, 12), start_time=datetime.time(10)
        ))

    def attendance(self):
        from tutorhub.courses.models import Attendance

        return self.once("attendance", lambda: Attendance.objects.create(lesson=self.lesson(), student=self.owner, status="present"))

    def homework(self):
        from tutorhub.homework.models import Homework

        return self.once("homework", lambda: Homework.objects.create(lesson=self.lesson(), title="Read aloud", created_by=self.teacher))

    def homework_submission(self):
        from tests.fakes.openai_server import silent_wav
        from tutorhub.homework.models import HomeworkSubmission

        return self.once("submission", lambda: HomeworkSubmission.objects.create(
            homework=self.homework(), student=self.owner, kind="audio", file=ContentFile(silent_wav(), name="a.wav"),
            audio_format="wav",
        ))

    def resource(self):
        from tutorhub.courses.models import LessonResource

        return self.once("resource", lambda: LessonResource.objects.create(
            lesson=self.lesson(), title="Slides", file=ContentFile(b"slides", name="slides.txt"),
            original_filename="slides.txt", content_type="text/plain",
        ))

    def study_plan(self):
        from tutorhub.learning.models import StudyPlan

        return self.once("plan", lambda: StudyPlan.objects.create(
            user=self.owner, title="Exam prep", start_date=datetime.date(2026, 1, 1), end_date=datetime.date(2026, 2, 1)
        ))

    def goal(self):
        from tutorhub.learning.models import LearningGoal

        return self.once("goal", lambda: LearningGoal.objects.create(study_plan=self.study_plan(), title="Derivatives"))

    def study_session(self):
        from tutorhub.learning.models import StudySession

        return self.once("study", lambda: StudySession.objects.create(user=self.owner, started_at=timezone.now()))

    def notification(self):
        from tutorhub.engagement.models import Notification

        return self.once("notification", lambda: Notification.objects.create(user=self.owner, kind="system", title="Hello"))

    def payment(self):
        from tutorhub.billing.models import Payment

        return self.once("payment", lambda: Payment.objects.create(
            student=self.owner, group=self.group, amount="100.00", due_date=datetime.date(2026, 2, 1), created_by=self.admin
        ))

    def webhook(self):
        from tutorhub.engagement.models import WebhookEndpoint

        return self.once("webhook", lambda: WebhookEndpoint.objects.create(owner=self.owner, url="https://example.com/hook", secret="s" * 32))


# path regex -> the path parameters naming one of the owner's objects (first match wins)
OBJECT_FACTORIES: list[tuple[str, Callable[[World], dict]]] = [
    (r"/chat/chats/\{chat_id\}/messages/\{message_id\}/", lambda w: {"chat_id": w.chat_session().pk, "message_id": w.chat_pair().reply.pk}),
    (r"/chat/sessions/\{session_id\}/chats/\{pair_id\}/", lambda w: {"session_id": w.chat_session().pk, "pair_id": w.chat_pair().pk}),
    (r"/(chat/chats|chat/sessions|api/sessions|chat/session|load_session)/\{", lambda w: {"id": w.chat_session().pk, "session_id": w.chat_session().pk}),
    (r"/chat/tutoring-sessions/\{id\}/", lambda w: {"id": w.tutoring().pk}),
    (r"/courses/\{course_id\}/documents/\{doc_id\}/", lambda w: {"course_id": w.course.pk, "doc_id": w.document().pk}),
    (r"/courses/\{course_id\}/", lambda w: {"course_id": w.course.pk}),
    (r"/knowledge/documents/\{doc_id\}/", lambda w: {"doc_id": w.document().pk}),
    (r"/passages/\{chunk_id\}/", lambda w: {"chunk_id": w.chunk().pk}),
    (r"/courses/groups/\{id\}/", lambda w: {"id": w.group.pk}),
    (r"/courses/schedules/\{id\}/", lambda w: {"id": w.schedule().pk}),
    (r"/api/v1/courses/\{id\}/", lambda w: {"id": w.course.pk}),
    (r"/assessments/flashcards/\{id\}/", lambda w: {"id": w.flashcard().pk}),
    (r"/assessments/quiz-attempts/\{id\}/", lambda w: {"id": w.quiz_attempt().pk}),
    (r"/assessments/quizzes/\{id\}/", lambda w: {"id": w.quiz().pk}),
    (r"/api/quiz/\{quiz_id\}/", lambda w: {"quiz_id": w.quiz().pk}),
    (r"/assessments/homework/\{id\}/|/api/homework/\{id\}/", lambda w: {"id": w.seed000_homework().uuid}),
    (r"/api/v1/assessments/\{id\}/", lambda w: {"id": w.assessment().pk}),
    (r"/accounts/feedback/\{id\}/", lambda w: {"id": w.feedback().pk}),
    (r"/accounts/parent-links/\{id\}/", lambda w: {"id": w.link.pk}),
    (r"/(accounts|auth)/users/\{id\}/", lambda w: {"id": w.owner.pk}),
    (r"/attendance/student/\{student_id\}/", lambda w: {"student_id": w.owner.pk}),
    (r"/attendance/\{id\}/", lambda w: {"id": w.attendance().pk}),
    (r"/gamification/achievements/\{student_id\}/", lambda w: {"student_id": w.owner.pk}),
    (r"/gamification/leaderboard/\{group_id\}/", lambda w: {"group_id": w.group.pk}),
    (r"/homework/submissions/\{id\}/", lambda w: {"id": w.homework_submission().pk}),
    (r"/homework/lesson/\{lesson_id\}/", lambda w: {"lesson_id": w.lesson().pk}),
    (r"/homework/\{id\}/", lambda w: {"id": (w.homework_submission(), w.homework().pk)[1]}),
    (r"/lessons/group/\{group_id\}/", lambda w: {"group_id": w.group.pk}),
    (r"/lessons/\{id\}/", lambda w: {"id": w.lesson().pk}),
    (r"/resources/lesson/\{lesson_id\}/", lambda w: {"lesson_id": (w.resource(), w.lesson().pk)[1]}),
    (r"/resources/\{id\}/", lambda w: {"id": w.resource().pk}),
    (r"/learning/goals/\{id\}/", lambda w: {"id": w.goal().pk}),
    (r"/learning/study-plans/\{id\}/", lambda w: {"id": w.study_plan().pk}),
    (r"/learning/study-sessions/\{id\}/", lambda w: {"id": w.study_session().pk}),
    (r"/notifications/\{id\}/", lambda w: {"id": w.notification().pk}),
    (r"/payments/\{id\}/", lambda w: {"id": w.payment().pk}),
    (r"/webhooks/\{webhook_id\}/", lambda w: {"webhook_id": w.webhook().pk}),
]


def _audio_upload() -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.fakes.openai_server import silent_wav

    return {"audio_submission": SimpleUploadedFile("a.wav", silent_wav(), content_type="audio/wav")}


# Valid bodies for actions that validate their input before looking the object up, so the
# refusal the matrix sees is the object's, not the body's: path regex -> (body builder, format).
VALID_BODIES: list[tuple[str, Callable[[World], dict], str]] = [
    (r"/api/quiz/\{quiz_id\}/submit/$", lambda w: {"answers": ["A"]}, "json"),
    (r"/flashcards/\{id\}/review/$", lambda w: {"quality_response": 4}, "json"),
    (r"/quiz-attempts/\{id\}/submit_response/$", lambda w: {"question": str(uuid.uuid4())}, "json"),
    (r"/goals/\{id\}/update_progress/$", lambda w: {"progress_percentage": 50}, "json"),
    (r"/homework/\{id\}/submit/$", lambda w: _audio_upload(), "multipart"),
]


def body_for(path: str, method: str, world: World) -> tuple[dict, str]:
    for pattern, build, fmt in VALID_BODIES:
        if method == "post" and re.search(pattern, path):
            return build(world), fmt
    return {}, "json"


@cache
def object_operations() -> list[tuple[str, str]]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (path, method)
        for path, operations in schema["paths"].items()
        if "{" in path and path not in PUBLIC_BY_DESIGN
        for method in operations
        if method in METHODS
    ]


def factory_for(path: str) -> Callable[[World], dict]:
    for pattern, factory in OBJECT_FACTORIES:
        if re.search(pattern, path):
            return factory
    raise AssertionError(f"{path} names an object: add its factory to OBJECT_FACTORIES in {__name__}")


def fill(path: str, params: dict) -> str:
    def value(match):
        name = match.group(1)
        assert name in params, f"{path}: the factory gives no {name}"
        return str(params[name])

    return re.sub(r"\{(\w+)\}", value, path)


def _operations():
    # Collected at import (parametrize needs the list); Django is set up by pytest-django by then.
    return object_operations()


@pytest.mark.parametrize(("path", "method"), _operations(), ids=[f"{m.upper()} {p}" for p, m in _operations()])
def test_other_users_cannot_reach_the_owners_object(path, method):
    world = World()
    url = fill(path, factory_for(path)(world))
    attackers = {
        "other student": client_for(world.other_student),
        "unrelated teacher": client_for(world.other_teacher),
        "unrelated parent": client_for(world.other_parent),
        "anonymous": APIClient(),
    }
    before = _snapshot()
    for who, client in attackers.items():
        if method == "get":
            res = client.get(url)
        else:
            body, fmt = body_for(path, method, world)
            res = getattr(client, method)(url, body, format=fmt)
        assert res.status_code in DENIED, f"{who}: {method.upper()} {url} -> {res.status_code} {res.content[:300]!r}"
        if res.status_code == 404 and res.get("Content-Type", "").startswith("application/json"):
            assert res.json().get("error_code") == "RESOURCE_NOT_FOUND", res.json()
    assert _snapshot() == before, f"{method.upper()} {url} changed data although every request was refused"
    if method == "get":
        insiders = [world.owner, world.teacher, world.admin, world.parent]
        codes = [client_for(user).get(url).status_code for user in insiders]
        assert any(200 <= code < 300 for code in codes), f"no insider reaches {url} ({codes}): the factory builds the wrong object"


def _snapshot() -> dict[str, tuple]:
    """Row counts and latest update times of every app table: a refused request changes none."""
    from django.apps import apps

    out = {}
    for model in apps.get_models():
        if not model.__module__.startswith("tutorhub") or model._meta.label in _VOLATILE:
            continue
        updated = "updated_at" in {f.name for f in model._meta.concrete_fields}
        qs = model.objects.all()
        out[model._meta.label] = (qs.count(), qs.order_by("-updated_at").values_list("updated_at", flat=True).first() if updated else None)
    return out


# Bookkeeping a refused request may legitimately write (rate-limit and quota locks, event relays).
_VOLATILE = {"core.ChannelLayerMessage", "billing.QuotaReservation"}


def test_every_object_route_has_a_factory():
    missing = []
    for path, _ in object_operations():
        try:
            factory_for(path)
        except AssertionError:
            missing.append(path)
    assert not missing, f"add factories for: {sorted(set(missing))}"
    assert len({p for p, _ in object_operations()}) >= 80  # the schema really was read
