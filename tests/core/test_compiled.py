"""core.compiled: a compiled list query answers as the plain queryset and DRF's list do, for several
users, roles and pages, and refuses to cache a query it cannot bind safely (issue 17)."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections
from django.db.models import F, Prefetch
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext

from benchmarks.api_data import seed
from benchmarks.http_api import ENDPOINTS
from tests.conftest import client_for
from tests.factories import UserFactory
from tutorhub.assessments import selectors as assessment_selectors
from tutorhub.assessments.views import QuizViewSet
from tutorhub.chat import selectors as chat_selectors
from tutorhub.chat.views import ChatSessionViewSet
from tutorhub.core import compiled
from tutorhub.core.compiled import CompiledQuery, Scalar
from tutorhub.core.pagination import StandardPagination
from tutorhub.engagement.models import Notification
from tutorhub.engagement.selectors import notification_list
from tutorhub.knowledge.models import Document

pytestmark = pytest.mark.django_db

COMPILED_LISTS = ["flashcards", "chats", "documents", "messages", "quizzes", "notifications"]
PAGES = ["", "?page_size=3", "?page=2&page_size=3", "?page=3&page_size=3", "?page=2", "?page=99&page_size=3",
         "?page=last&page_size=3", "?page=0", "?page=2.0&page_size=3", "?page_size=0", "?page_size=500",
         # Orderings: one valid field (compiled), an invalid one (ignored, as DRF ignores it), two
         # fields (DRF's path); lists without explicit ordering_fields take DRF's path for all.
         "?ordering=created_at", "?ordering=-created_at&page=2&page_size=3", "?ordering=-title&page_size=3",
         "?ordering=-success_rate&page_size=4", "?ordering=last_message_at", "?ordering=bogus",
         "?ordering=title,-created_at", "?ordering=created_at&search=a"]


@pytest.fixture
def people():
    """Two students with data, the first one's teacher (who sees their courses' documents and
    quizzes) and an admin (who sees every quiz and document): different users and shapes."""
    first = seed(documents=4, paragraphs=6, chunks_per_document=2, cards=8, quizzes=7, sessions=7, pairs=4,
                 notifications=7, groups=1, peers=1, prefix="cqa")
    second = seed(documents=2, paragraphs=6, chunks_per_document=2, cards=3, quizzes=2, sessions=2, pairs=1,
                  notifications=2, groups=1, peers=1, prefix="cqb")
    teacher = get_user_model().objects.get(username="cqa-teacher")
    return {"session": first["session"], "users": [first["user"], second["user"], teacher,
                                                    UserFactory(role="admin", is_staff=True)]}


def answer(response) -> tuple[int, bytes | dict]:
    """A list's bytes; an error's envelope without its request id and time."""
    if response.status_code == 200:
        return 200, response.content
    return response.status_code, {k: v for k, v in response.json().items() if k not in ("request_id", "timestamp")}


def drf_path(monkeypatch):
    monkeypatch.setattr(StandardPagination, "paginate_compiled", lambda self, query, request, handled=(), **values: None)


@pytest.mark.parametrize("name", COMPILED_LISTS)
def test_every_page_answers_as_drfs_list(monkeypatch, people, name):
    served = []
    real_page = CompiledQuery.page
    monkeypatch.setattr(CompiledQuery, "page", lambda self, **kw: served.append(self) or real_page(self, **kw))
    url = ENDPOINTS[name].format(session=people["session"].pk)
    answers = {}
    for user in people["users"]:
        client = client_for(user)
        for page in PAGES:
            answers[user.pk, page] = answer(client.get(url + page))
    assert served, "the compiled path was not taken"
    if name in ("flashcards", "chats", "quizzes"):  # explicit ordering_fields: orderings compiled too
        assert any("ordered by -created_at" in query.name for query in served)
    drf_path(monkeypatch)
    for user in people["users"]:
        client = client_for(user)
        for page in PAGES:
            assert answers[user.pk, page] == answer(client.get(url + page)), (user.username, page)
    statuses = {status for status, _ in answers.values()}
    assert 200 in statuses and 404 in statuses  # pages past the end (and another user's chat)


def test_page_and_count_equal_the_querysets_for_each_user_and_shape(people):
    quizzes = CompiledQuery("test quizzes", lambda user: assessment_selectors.quiz_list_visible(user=user),
                            user=("is_superuser", "role"))
    cards = CompiledQuery("test cards", lambda user: assessment_selectors.flashcard_list(user=user).order_by("id"),
                          user=())
    for user in people["users"]:
        for query, build, fields in (
            (quizzes, lambda u: assessment_selectors.quiz_list_visible(user=u), ["pk", "title", "question_count"]),
            (cards, lambda u: assessment_selectors.flashcard_list(user=u).order_by("id"),
             ["pk", "question", "mastery_level", "source_document_title", "source_page", "created_at"]),
        ):
            expected = build(user)
            assert query.count(user=user) == expected.count()
            for offset, limit in ((0, 3), (3, 3), (6, 5), (0, 100), (50, 3)):
                got = query.page(limit=limit, offset=offset, user=user)
                want = list(expected[offset: offset + limit])
                assert [[getattr(o, f) for f in fields] for o in got] == [[getattr(o, f) for f in fields] for o in want]
    # One plan per declared shape (is_superuser, role): the admin's SQL has no visibility filter.
    plans = compiled._PLANS[connections["default"]]
    assert sorted(key[1] for key in plans if key[0] is quizzes) == [(False, "admin"), (False, "student"), (False, "teacher")]


def test_messages_know_their_chat_and_a_second_request_builds_nothing(people):
    session = people["session"]
    messages = CompiledQuery("test messages", lambda session: chat_selectors.message_list(session=session), session=())
    first = messages.page(limit=5, offset=0, session=session)
    assert [m.pk for m in first] == [m.pk for m in chat_selectors.message_list(session=session)[:5]]
    with CaptureQueriesContext(connection) as queries:
        again = messages.page(limit=5, offset=0, session=session)
        assert all(m.session is session for m in again)  # the related manager's known object, no query
    assert len(queries) == 1


def test_select_related_and_deferred_columns_load_as_django_loads_them(people):
    student = people["users"][0]
    notes = CompiledQuery("test notes", lambda user: notification_list(user=user).select_related("user")
                          .defer("message").order_by("-id"), user=())
    got = notes.page(limit=4, offset=1, user=student)
    want = list(notification_list(user=student).select_related("user").defer("message").order_by("-id")[1:5])
    assert [(n.pk, n.title, n.user.username, n.get_deferred_fields()) for n in got] == [
        (n.pk, n.title, n.user.username, n.get_deferred_fields()) for n in want]


def test_instances_are_the_ones_from_db_builds_and_init_receivers_still_run(people):
    student = people["users"][0]
    notes = CompiledQuery("test notes plain", lambda user: notification_list(user=user).defer("message").order_by("id"),
                          user=())
    want = list(notification_list(user=student).defer("message").order_by("id")[:3])

    def state(n):
        return (type(n), n.__dict__ | {"_state": (n._state.adding, n._state.db, n._state.fields_cache)},
                n.get_deferred_fields())

    assert [state(n) for n in notes.page(limit=3, offset=0, user=student)] == [state(n) for n in want]
    # With a pre_init or post_init receiver for the model, instances go through Model.__init__.
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_init.connect(receiver, sender=Notification)
    try:
        got = notes.page(limit=3, offset=0, user=student)
    finally:
        post_init.disconnect(receiver, sender=Notification)
    assert seen == [n.pk for n in got] == [n.pk for n in want]
    # A field whose descriptor does more than store the value: Django's way.
    assert compiled._plain_init(Notification, ("id", "title", "user_id"))
    assert compiled._plain_init(Document, ("id", "original_filename", "owner_id"))
    assert not compiled._plain_init(Document, ("id", "original_filename", "file"))  # FileDescriptor.__set__


# -- what it refuses to cache ----------------------------------------------------------------------

@pytest.mark.parametrize("build, message", [
    # Reads a field the shape does not declare: the stand-in would have to load it.
    (lambda user: Notification.objects.filter(user=user, title=user.email), "ran a query"),
    # Runs a query: the SQL would freeze the data read at build time.
    (lambda user: Notification.objects.filter(user__in=list(get_user_model().objects.values_list("pk", flat=True))),
     "ran a query"),
    # The user's id written into the SQL instead of passed as a parameter.
    (lambda user: Notification.objects.filter(user=user).extra(where=[f"user_id <> {user.pk + 1}"]), "SQL depends"),
    # The id transformed on its way in: no slot can hold it.
    (lambda user: Notification.objects.filter(user=user, title=f"for {user.pk}"), "is no sentinel"),
    # Different SQL for different ids.
    (lambda user: Notification.objects.filter(user=user) if user.pk % 2 else Notification.objects.filter(
        user=user, is_read=False), "SQL depends"),
    # Sliced or not a model queryset.
    (lambda user: Notification.objects.filter(user=user)[:5], "only unsliced"),
    (lambda user: Notification.objects.filter(user=user).values("pk"), "only unsliced"),
    # A Prefetch queryset is not part of the compiled SQL: the stand-in would stay in it.
    (lambda user: get_user_model().objects.filter(pk=user.pk).prefetch_related(
        Prefetch("notifications", queryset=Notification.objects.filter(user=user))), "Prefetch queryset"),
    (lambda user: Notification.objects.filter(user=user).annotate(own=F("user_id")).filter(own=2_000_000_011),
     "constant parameter equals a sentinel"),
])
def test_a_query_it_cannot_bind_safely_fails_at_build(user, build, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        CompiledQuery("unsafe", build, user=()).page(limit=5, offset=0, user=user)


def test_parameters_must_be_the_declared_ones(user):
    query = CompiledQuery("notifications", lambda user: notification_list(user=user), user=())
    with pytest.raises(TypeError):
        query.page(limit=5, offset=0, owner=user)


def test_a_changed_setting_drops_the_plans(user, settings):
    query = CompiledQuery("notifications", lambda user: notification_list(user=user), user=())
    query.count(user=user)
    assert compiled._PLANS[connections["default"]]
    settings.USE_TZ = not settings.USE_TZ
    assert not compiled._PLANS.get(connections["default"])


def test_a_parameter_the_sql_does_not_need_is_allowed(user):
    everyone = CompiledQuery("all notifications", lambda user: Notification.objects.order_by("id"), user=())
    assert everyone.count(user=user) == Notification.objects.count()


def test_a_scalar_parameter_binds_a_value_of_its_type(people):
    session = people["session"]
    owner = session.owner
    own_chat = CompiledQuery("own chat", lambda user, pk: chat_selectors.chat_session_owned_by_id(user=user, pk=pk),
                             user=(), pk=Scalar(uuid.UUID))
    assert [c.pk for c in own_chat.page(limit=1, offset=0, user=owner, pk=session.pk)] == [session.pk]
    assert own_chat.page(limit=1, offset=0, user=people["users"][1], pk=session.pk) == []  # another's chat
    assert own_chat.page(limit=1, offset=0, user=owner, pk=uuid.uuid4()) == []
    with pytest.raises(TypeError):
        own_chat.page(limit=1, offset=0, user=owner, pk=str(session.pk))  # compiled for a UUID, not a str


@pytest.mark.parametrize("whose", ["own", "another's", "unknown", "malformed"])
def test_the_messages_chat_lookup_answers_as_get_object(monkeypatch, people, whose):
    session = people["session"]
    chat_id = {"own": session.pk, "another's": session.pk, "unknown": uuid.uuid4(),
               "malformed": "-" * 36}[whose]
    client = client_for(people["users"][1] if whose == "another's" else session.owner)
    url = f"/api/v1/chat/chats/{chat_id}/messages/"
    ours = answer(client.get(url))
    monkeypatch.setattr(ChatSessionViewSet, "_own_chat", lambda self: self.get_object())
    assert ours == answer(client.get(url))
    assert ours[0] == (200 if whose == "own" else 404)


def test_prefetch_lookups_run_for_the_page(people):
    student = people["users"][0]
    with_notes = CompiledQuery("with notes", lambda user: get_user_model().objects.filter(pk=user.pk)
                               .prefetch_related("notifications"), user=())
    (got,) = with_notes.page(limit=5, offset=0, user=student)
    with CaptureQueriesContext(connection) as queries:
        titles = sorted(n.title for n in got.notifications.all())
    assert len(queries) == 0 and titles == sorted(notification_list(user=student).values_list("title", flat=True))


@pytest.mark.parametrize("query_string", ["", "?ordering=title"])
def test_a_view_default_ordering_takes_drfs_path(monkeypatch, people, query_string):
    """compiled_list does not know a view's `ordering`: with one set, every request takes DRF's list."""
    monkeypatch.setattr(QuizViewSet, "ordering", ["title"], raising=False)
    served = []
    real_page = CompiledQuery.page
    monkeypatch.setattr(CompiledQuery, "page", lambda self, **kw: served.append(self) or real_page(self, **kw))
    data = client_for(people["users"][0]).get(ENDPOINTS["quizzes"] + query_string).json()
    assert not served
    titles = [q["title"] for q in data["results"]]
    assert titles == sorted(titles)
