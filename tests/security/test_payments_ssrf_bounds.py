"""Issue 11 regressions: a fake payment token buys nothing, IPv6 transition forms of private
addresses are refused by the SSRF check (also after a redirect), numeric inputs are bounded,
and ids inside request bodies are scoped to the caller."""

from __future__ import annotations

import socket

import pytest

from tests.courses import fixtures
from tests.knowledge.conftest import LoopbackServer
from tutorhub.core import fetch

pytestmark = pytest.mark.django_db
school = fixtures.school  # the small school of the courses tests (teacher, students, groups)

# --- payments ---------------------------------------------------------------------------------


def test_fake_payment_token_buys_no_plan(api_client, settings):
    settings.BILLING_PAYMENT_PROVIDER = {"BACKEND": "tutorhub.billing.providers.NoPaymentProvider", "OPTIONS": {}}
    res = api_client.post(
        "/api/v1/billing/subscription/upgrade/", {"plan_id": "premium_yearly", "payment_method_token": "tok_fake"}, format="json"
    )
    assert res.status_code == 403 and res.json()["error_code"] == "PAYMENT_PROVIDER_NOT_CONFIGURED"
    assert api_client.get("/api/v1/billing/subscription/").json()["plan"]["plan_id"] == "free"


# --- SSRF: IPv6 transition forms ---------------------------------------------------------------

# Each carries 127.0.0.1, 10.0.0.1 or the metadata address 169.254.169.254 inside an IPv6 address.
TRANSITION_FORMS = {
    "nat64": "64:ff9b::7f00:1",
    "nat64-local-use": "64:ff9b:1::a00:1",
    "nat64-metadata": "64:ff9b::a9fe:a9fe",
    "6to4": "2002:7f00:1::",
    "6to4-private": "2002:a00:1::1",
    "ipv4-compatible": "::127.0.0.1",
    "ipv4-mapped": "::ffff:127.0.0.1",
    "ipv4-mapped-metadata": "::ffff:169.254.169.254",
    "teredo": "2001:0:4136:e378:8000:63bf:80ff:fffe",  # client 127.0.0.1 (obfuscated bits)
    "isatap": "2600::5efe:a00:1",
}


@pytest.mark.parametrize("address", TRANSITION_FORMS.values(), ids=TRANSITION_FORMS.keys())
def test_ipv6_transition_form_literal_is_refused(address):
    with pytest.raises(fetch.FetchError, match="private, loopback or link-local"):
        fetch.resolve_checked(f"http://[{address}]/", allow_private=False)


@pytest.mark.parametrize("address", TRANSITION_FORMS.values(), ids=TRANSITION_FORMS.keys())
def test_ipv6_transition_form_in_a_dns_answer_is_refused(address, monkeypatch):
    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

    monkeypatch.setattr(fetch.socket, "getaddrinfo", resolve)
    with pytest.raises(fetch.FetchError, match="private, loopback or link-local"):
        fetch.resolve_checked("http://innocent.example/", allow_private=False)


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700:4700::1111"])
def test_transition_forms_of_public_addresses_stay_allowed(address):
    # An IPv6-only network reaches IPv4 sites through NAT64; those must keep working.
    import ipaddress

    connect_to = fetch.resolve_checked(f"http://[{address}]/", allow_private=False)[3]
    assert ipaddress.ip_address(connect_to) == ipaddress.ip_address(address)


@pytest.mark.parametrize("address", TRANSITION_FORMS.values(), ids=TRANSITION_FORMS.keys())
def test_redirect_to_an_ipv6_transition_form_is_refused(address, monkeypatch):
    """The first hop (a loopback server standing in for a public site) is allowed; the check of
    the redirect's target runs with private addresses refused, and no request is sent there."""
    server = LoopbackServer()
    try:
        server.routes["/go"] = (302, {"Location": f"http://[{address}]:{server.httpd.server_address[1]}/secret"}, b"")
        real = fetch.resolve_checked

        def checked(url, *, allow_private):
            return real(url, allow_private=url.startswith("http://127.0.0.1:"))

        monkeypatch.setattr(fetch, "resolve_checked", checked)
        with pytest.raises(fetch.FetchError, match="private, loopback or link-local"):
            fetch.safe_request("GET", server.url("/go"), allow_private=False, timeout=5, max_bytes=1024)
        assert [r["path"] for r in server.received] == ["/go"]
    finally:
        server.stop()


# --- numeric bounds ------------------------------------------------------------------------------

BILLION = 1_000_000_000


@pytest.fixture
def lesson(school):
    import datetime

    from tutorhub.courses.models import Lesson

    return Lesson.objects.create(group=school.group, scheduled_date=datetime.date(2026, 1, 12), start_time=datetime.time(17))


def test_a_billion_coins_reward_is_refused(school, lesson):
    from tutorhub.homework.models import Homework

    teacher = school.client("teacher")
    res = teacher.post("/api/v1/homework/", {"lesson": lesson.pk, "title": "Essay", "coins_reward": BILLION}, format="json")
    assert res.status_code == 400 and "coins_reward" in res.json()["details"]
    assert not Homework.objects.exists()
    ok = teacher.post("/api/v1/homework/", {"lesson": lesson.pk, "title": "Essay", "coins_reward": 50}, format="json")
    assert ok.status_code == 201, ok.json()
    res = teacher.patch(f"/api/v1/homework/{ok.json()['id']}/", {"coins_reward": BILLION}, format="json")
    assert res.status_code == 400 and Homework.objects.get().coins_reward == 50


def test_the_database_refuses_an_unbounded_coins_reward_too(lesson):
    from django.db import IntegrityError, transaction

    from tutorhub.homework.models import Homework

    with pytest.raises(IntegrityError), transaction.atomic():
        Homework.objects.create(lesson=lesson, title="x", coins_reward=BILLION)


@pytest.mark.parametrize(
    ("role", "url", "body", "field"),
    [
        ("admin", "/api/v1/courses/groups/", {"max_students": BILLION}, "max_students"),
        ("admin", "/api/v1/courses/groups/", {"max_students": 0}, "max_students"),
        ("teacher", "/api/v1/lessons/", {"duration_minutes": BILLION}, "duration_minutes"),
        ("student", "/api/v1/courses/", {"credits": BILLION}, "credits"),
        ("student", "/api/v1/assessments/quizzes/", {"max_attempts": BILLION}, "max_attempts"),
        ("student", "/api/v1/assessments/quizzes/", {"time_limit_minutes": BILLION}, "time_limit_minutes"),
    ],
)
def test_counts_durations_and_limits_are_bounded(school, role, url, body, field):
    base = {
        "/api/v1/courses/groups/": {"name": "G", "course": school.group.course_id},
        "/api/v1/lessons/": {"group": school.group.pk, "scheduled_date": "2026-01-12", "start_time": "10:00"},
        "/api/v1/courses/": {"name": "Physics"},
        "/api/v1/assessments/quizzes/": {"title": "Quiz"},
    }[url]
    res = school.client(role).post(url, {**base, **body}, format="json")
    assert res.status_code == 400, res.json()
    assert field in res.json()["details"]


# --- ids inside request bodies --------------------------------------------------------------------


def _missing_message(res) -> str:
    details = res.json()["details"]
    field = next(iter(details))
    message = details[field]
    while isinstance(message, (list, dict)):
        message = next(iter(message.values())) if isinstance(message, dict) else message[0]
    return str(message)


def test_foreign_document_in_chat_context_is_refused_like_a_missing_one(user, other_user, api_client):
    import uuid

    from tutorhub.chat.models import ChatContext, ChatSession
    from tutorhub.knowledge.models import Document

    session = ChatSession.objects.create(owner=user, title="Physics")
    mine = Document.objects.create(owner=user, name="My notes", processing_status="completed")
    theirs = Document.objects.create(owner=other_user, name="Their notes", processing_status="completed")
    url = f"/api/v1/chat/chats/{session.pk}/add_context/"
    foreign = api_client.post(url, {"content": "focus", "document_ids": [str(mine.pk), str(theirs.pk)]}, format="json")
    missing = api_client.post(url, {"content": "focus", "document_ids": [str(uuid.uuid4())]}, format="json")
    assert foreign.status_code == missing.status_code == 400
    assert _missing_message(foreign).replace(str(theirs.pk), "<id>") == _missing_message(missing).replace(
        missing.json()["details"]["document_ids"][0].split('"')[1], "<id>"
    )
    assert "Their notes" not in foreign.content.decode()
    assert not ChatContext.objects.exists()
    ok = api_client.post(url, {"content": "focus", "document_ids": [str(mine.pk), str(mine.pk)]}, format="json")
    assert ok.status_code == 201 and ok.json()["document_ids"] == [str(mine.pk)]
    assert ChatContext.objects.get().document_ids == [str(mine.pk)]


def test_foreign_document_as_message_context_is_refused(user, other_user, api_client):
    from tutorhub.chat.models import ChatSession, Message
    from tutorhub.knowledge.models import Document

    session = ChatSession.objects.create(owner=user, title="Physics")
    theirs = Document.objects.create(owner=other_user, name="Their notes", processing_status="completed")
    res = api_client.post(
        f"/api/v1/chat/chats/{session.pk}/send_message/", {"content": "What is in it?", "context_documents": [str(theirs.pk)]},
        format="json",
    )
    assert res.status_code == 400 and "context_documents" in res.json()["details"]
    assert not Message.objects.exists()


def test_chat_create_with_the_documented_status_field(api_client):
    res = api_client.post("/api/v1/chat/chats/", {"title": "Physics", "status": "archived"}, format="json")
    assert res.status_code == 201, res.json()
    assert res.json()["status"] == "active"  # a chat starts active; archiving is an update
    chat = res.json()["id"]
    assert api_client.patch(f"/api/v1/chat/chats/{chat}/", {"status": "archived"}, format="json").json()["status"] == "archived"


def test_foreign_group_for_a_lesson_is_refused_like_a_missing_one(school):
    teacher = school.client("teacher")
    body = {"scheduled_date": "2026-01-12", "start_time": "10:00"}
    foreign = teacher.post("/api/v1/lessons/", {**body, "group": school.other_group.pk}, format="json")
    missing = teacher.post("/api/v1/lessons/", {**body, "group": 10**9}, format="json")
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json()["details"]["group"] == [f'Invalid pk "{school.other_group.pk}" - object does not exist.']
    assert missing.json()["details"]["group"] == [f'Invalid pk "{10**9}" - object does not exist.']


def test_foreign_lesson_for_homework_is_refused_like_a_missing_one(school):
    import datetime

    from tutorhub.courses.models import Lesson
    from tutorhub.homework.models import Homework

    theirs = Lesson.objects.create(group=school.other_group, scheduled_date=datetime.date(2026, 1, 12), start_time=datetime.time(9))
    res = school.client("teacher").post("/api/v1/homework/", {"lesson": theirs.pk, "title": "x"}, format="json")
    assert res.status_code == 400
    assert res.json()["details"]["lesson"] == [f'Invalid pk "{theirs.pk}" - object does not exist.']
    assert not Homework.objects.exists()


def test_foreign_course_for_a_flashcard_is_refused_like_a_missing_one(api_client, other_user):
    from tests.factories import CourseFactory
    from tutorhub.assessments.models import Flashcard

    theirs = CourseFactory(owner=other_user)
    res = api_client.post(
        "/api/v1/assessments/flashcards/", {"question": "Q?", "answer": "A", "course": str(theirs.pk)}, format="json"
    )
    assert res.status_code == 400
    assert res.json()["details"]["course"] == [f'Invalid pk "{theirs.pk}" - object does not exist.']
    assert not Flashcard.objects.exists()


@pytest.mark.parametrize("value", [2**63, -1, 0, "abc", True, {"id": 1}])
def test_malformed_or_absurd_ids_in_bodies_are_400(school, value):
    res = school.client("teacher").post(
        "/api/v1/lessons/", {"group": value, "scheduled_date": "2026-01-12", "start_time": "10:00"}, format="json"
    )
    assert res.status_code == 400 and "group" in res.json()["details"]


def test_foreign_ids_in_a_knowledge_search_are_refused_like_missing_ones(api_client, other_user):
    from tests.factories import CourseFactory
    from tutorhub.knowledge.models import Document

    theirs = Document.objects.create(owner=other_user, name="Their notes", processing_status="completed")
    their_course = CourseFactory(owner=other_user)
    url = "/api/v1/knowledge/search/"
    res = api_client.post(url, {"query": "notes", "document_ids": [str(theirs.pk)]}, format="json")
    assert res.status_code == 400
    assert res.json()["details"]["document_ids"] == [f'Invalid pk "{theirs.pk}" - object does not exist.']
    res = api_client.post(url, {"query": "notes", "course_ids": [str(their_course.pk)]}, format="json")
    assert res.status_code == 400
    assert res.json()["details"]["course_ids"] == [f'Invalid pk "{their_course.pk}" - object does not exist.']
    assert api_client.post(url, {"query": "notes", "document_ids": [], "course_ids": []}, format="json").status_code == 200


def test_attendance_ids_of_no_user_and_of_another_groups_student_get_one_answer(school, lesson):
    from tutorhub.courses.models import Attendance

    teacher = school.client("teacher")
    url = "/api/v1/attendance/bulk-mark/"
    entries = [{"student": school.other_student.pk, "status": "present"}, {"student": 10**9, "status": "present"}]
    res = teacher.post(url, {"lesson_id": lesson.pk, "attendance_data": entries}, format="json")
    assert res.status_code == 400
    assert res.json()["details"]["attendance_data"] == [f"Students not in this lesson's group: {sorted([school.other_student.pk, 10**9])}."]
    assert not Attendance.objects.exists()


def test_attendance_students_are_looked_up_in_one_query(school, lesson):
    from tests.factories import UserFactory

    many = UserFactory.create_batch(8, role="student")
    school.group.students.add(*many)
    teacher = school.client("teacher")
    url = "/api/v1/attendance/bulk-mark/"

    def mark(students):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            body = {"lesson_id": lesson.pk, "attendance_data": [{"student": s.pk, "status": "present"} for s in students]}
            assert teacher.post(url, body, format="json").status_code == 200
        # Whole-user reads (the per-student coin updates read only their balance, by design).
        return [q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT "accounts_user"."id", "accounts_user"."password"')]

    # Looking the students up does not grow with the list (it once did: one query per entry).
    assert len(mark(many[:2])) == len(mark(many))
