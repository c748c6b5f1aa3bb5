"""The web app's pages and seed 004's JSON routes, through Django's test client."""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.factories import PASSWORD
from tutorhub.chat.models import ChatSession, Message

pytestmark = pytest.mark.django_db

XSS = '<img src=x onerror=alert(1)><script>alert("x")</script>'


@pytest.fixture
def browser_client(user) -> Client:
    """A logged-in browser session that enforces CSRF like a real browser's would."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/")  # the page sets the CSRF cookie
    return client


def csrf(client: Client) -> dict:
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def make_exchange(session: ChatSession, question: str, answer: str, citations=None) -> tuple[Message, Message]:
    asked = Message.objects.create(session=session, role=Message.Role.USER, content=question)
    reply = Message.objects.create(
        session=session,
        role=Message.Role.ASSISTANT,
        content=answer,
        reply_to=asked,
        context_used={"citations": citations or []},
    )
    return asked, reply


# --- accounts pages -------------------------------------------------------------------------


def test_register_logs_in_and_redirects_to_chat(client):
    page = client.get("/accounts/register/")
    assert page.status_code == 200
    assert b'name="username"' in page.content and b'name="password2"' in page.content
    response = client.post(
        "/accounts/register/",
        {"username": "newuser", "email": "New@Example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302 and response.url == "/"
    user = get_user_model().objects.get(username="newuser")
    assert user.email == "new@example.com" and user.check_password(PASSWORD)
    assert client.get("/").status_code == 200  # the session is logged in


def test_register_shows_errors_without_creating_anything(client, user):
    response = client.post(
        "/accounts/register/",
        {"username": "someone", "email": user.email.upper(), "password1": PASSWORD, "password2": "different"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "password fields didn" in body
    assert not get_user_model().objects.filter(username="someone").exists()


def test_register_with_a_taken_email_does_not_name_it(client, user):
    # Sign-up must not reveal which addresses have accounts (issue 11): one message for a taken
    # username or email, and the address's owner is emailed.
    response = client.post(
        "/accounts/register/",
        {"username": "someone", "email": user.email.upper(), "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "An account with this username or email address already exists." in body
    assert "An account with this email already exists." not in body
    assert not get_user_model().objects.filter(username="someone").exists()


def test_login_with_username_or_email_and_logout_by_post(client, user):
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"Username or email" in page.content
    bad = client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    assert bad.status_code == 200 and b"Please enter a correct" in bad.content
    response = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/"
    # Issue 14: a GET (a link, an <img> elsewhere) no longer logs out; it asks to confirm.
    confirm = client.get("/accounts/logout/")
    assert confirm.status_code == 200 and b'method="post"' in confirm.content
    assert client.get("/").status_code == 200
    logout = client.post("/accounts/logout/")
    assert logout.status_code == 302 and logout.url == "/accounts/login/"
    assert client.get("/").status_code == 302


def test_logout_post_needs_the_csrf_token(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/accounts/logout/").status_code == 403
    assert client.get("/").status_code == 200  # still signed in


def test_login_honours_next(client, user):
    response = client.post("/accounts/login/?next=/knowledge/", {"username": user.username, "password": PASSWORD, "next": "/knowledge/"})
    assert response.url == "/knowledge/"


@pytest.mark.parametrize("path", ["/", "/knowledge/", f"/chat/{uuid.uuid4()}/"])
def test_pages_need_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")


# --- chat pages -------------------------------------------------------------------------------


def test_chat_home_lists_only_my_sessions(client, user, other_user, django_assert_max_num_queries):
    mine = [ChatSession.objects.create(owner=user, title=f"Mine {i}") for i in range(5)]
    ChatSession.objects.create(owner=other_user, title="Not mine")
    client.force_login(user)
    # session + user + sessions: the sidebar does not grow queries with its length
    with django_assert_max_num_queries(4):
        response = client.get("/")
    body = response.content.decode()
    assert all(s.title in body for s in mine)
    assert "Not mine" not in body
    assert 'data-session-id=""' in body  # no current session on the home page


def test_session_page_embeds_history_as_inert_json(client, user):
    session = ChatSession.objects.create(owner=user, title=XSS)
    make_exchange(session, XSS, "An answer", citations=[{"title": "Notes", "page": 2}])
    client.force_login(user)
    response = client.get(f"/chat/{session.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<script>alert" not in body and "<img src=x" not in body  # escaped everywhere
    start = body.index('<script id="initial-chats" type="application/json">') + len('<script id="initial-chats" type="application/json">')
    chats = json.loads(body[start : body.index("</script>", start)])
    assert chats[0]["message"] == XSS and chats[0]["citations"] == [{"title": "Notes", "page": 2}]


def test_other_users_session_page_is_404(client, user, other_user):
    session = ChatSession.objects.create(owner=other_user, title="Private")
    client.force_login(user)
    assert client.get(f"/chat/{session.pk}/").status_code == 404


# --- JSON routes (seed 004) -------------------------------------------------------------------


def test_create_session_shape(browser_client, user):
    response = browser_client.post("/chat/session/create/", {}, content_type="application/json", **csrf(browser_client))
    assert response.status_code == 201
    data = response.json()
    assert data == {"success": True, "session_id": data["session_id"], "session_title": "New Chat"}
    assert ChatSession.objects.get(pk=data["session_id"]).owner == user


def test_create_session_with_a_title(browser_client):
    response = browser_client.post(
        "/chat/session/create/", {"title": "Algebra"}, content_type="application/json", **csrf(browser_client)
    )
    assert response.json()["session_title"] == "Algebra"


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("post", "/chat/session/create/", {}),
        ("post", "/chat/session/{id}/rename/", {"title": "x"}),
        ("delete", "/chat/session/{id}/delete/", None),
    ],
)
def test_writes_need_the_csrf_token(browser_client, user, method, path, body):
    session = ChatSession.objects.create(owner=user, title="Keep")
    response = getattr(browser_client, method)(path.format(id=session.pk), body, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    session.refresh_from_db()
    assert session.title == "Keep" and ChatSession.objects.filter(owner=user).count() == 1


def test_rename(browser_client, user):
    session = ChatSession.objects.create(owner=user, title="Old")
    response = browser_client.post(
        f"/chat/session/{session.pk}/rename/", {"title": "  Calculus revision "}, content_type="application/json", **csrf(browser_client)
    )
    assert response.status_code == 200 and response.json() == {"success": True}
    session.refresh_from_db()
    assert session.title == "Calculus revision"


@pytest.mark.parametrize("body", [{}, {"title": ""}, {"title": "   "}, {"title": "x" * 201}, {"title": ["a"]}])
def test_rename_rejects_bad_titles(browser_client, user, body):
    session = ChatSession.objects.create(owner=user, title="Old")
    response = browser_client.post(
        f"/chat/session/{session.pk}/rename/", body, content_type="application/json", **csrf(browser_client)
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR" and "title" in response.json()
    session.refresh_from_db()
    assert session.title == "Old"


def test_rename_rejects_malformed_json(browser_client, user):
    session = ChatSession.objects.create(owner=user, title="Old")
    response = browser_client.post(
        f"/chat/session/{session.pk}/rename/", "{not json", content_type="application/json", **csrf(browser_client)
    )
    assert response.status_code == 400


def test_delete(browser_client, user):
    session = ChatSession.objects.create(owner=user, title="Bye")
    make_exchange(session, "q", "a")
    response = browser_client.delete(f"/chat/session/{session.pk}/delete/", **csrf(browser_client))
    assert response.status_code == 200 and response.json() == {"success": True}
    assert not ChatSession.objects.filter(pk=session.pk).exists()
    assert not Message.objects.filter(session_id=session.pk).exists()


def test_delete_only_with_delete(browser_client, user):
    session = ChatSession.objects.create(owner=user, title="Stay")
    response = browser_client.post(f"/chat/session/{session.pk}/delete/", **csrf(browser_client))
    assert response.status_code == 405
    assert ChatSession.objects.filter(pk=session.pk).exists()


def test_load_session_shape_and_queries(browser_client, user, django_assert_num_queries):
    session = ChatSession.objects.create(owner=user, title="Physics")
    citations = [{"document_id": str(uuid.uuid4()), "title": "Mechanics notes", "snippet": "F = ma"}]
    asked, reply = make_exchange(session, "What is force?", "Force is mass times acceleration.", citations)
    for i in range(5):
        make_exchange(session, f"q{i}", f"a{i}")
    unanswered = Message.objects.create(session=session, role=Message.Role.USER, content="Still thinking?")
    # session auth (session + user), the session, the pairs with their replies joined
    with django_assert_num_queries(4):
        response = browser_client.get(f"/load_session/{session.pk}/")
    assert response.status_code == 200
    data = response.json()
    assert data["session_id"] == str(session.pk) and data["session_title"] == "Physics"
    assert len(data["chats"]) == 7
    first = data["chats"][0]
    assert {"id", "message", "response", "created_at"} <= set(first)
    assert first["id"] == str(asked.pk)
    assert first["message"] == "What is force?"
    assert first["response"] == "Force is mass times acceleration."
    assert first["created_at"].endswith("Z")
    assert first["response_id"] == str(reply.pk) and first["citations"] == citations
    assert [c["message"] for c in data["chats"][1:6]] == [f"q{i}" for i in range(5)]
    last = data["chats"][-1]
    assert last["id"] == str(unanswered.pk) and last["response"] is None and last["response_id"] is None


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/load_session/{id}/"),
        ("post", "/chat/session/{id}/rename/"),
        ("delete", "/chat/session/{id}/delete/"),
    ],
)
def test_other_users_sessions_are_404(browser_client, other_user, method, path):
    session = ChatSession.objects.create(owner=other_user, title="Theirs")
    response = getattr(browser_client, method)(
        path.format(id=session.pk), {"title": "Hijacked"}, content_type="application/json", **csrf(browser_client)
    )
    assert response.status_code == 404
    assert response.json()["detail"] == "Not found."
    session.refresh_from_db()
    assert session.title == "Theirs"


def test_unknown_session_is_404(browser_client):
    assert browser_client.get(f"/load_session/{uuid.uuid4()}/").status_code == 404


@pytest.mark.parametrize(
    "method,path",
    [
        ("post", "/chat/session/create/"),
        ("get", "/load_session/{id}/"),
        ("post", "/chat/session/{id}/rename/"),
        ("delete", "/chat/session/{id}/delete/"),
    ],
)
def test_json_routes_need_login(client, user, method, path):
    session = ChatSession.objects.create(owner=user, title="Mine")
    response = getattr(client, method)(path.format(id=session.pk), {"title": "x"}, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication credentials were not provided."
    assert ChatSession.objects.count() == 1


def test_json_routes_accept_a_jwt_too(api_client):
    # The same routes serve an API client (no CSRF for a bearer token).
    response = api_client.post("/chat/session/create/", {"title": "From the API"}, format="json")
    assert response.status_code == 201
    assert api_client.get(f"/load_session/{response.json()['session_id']}/").json()["chats"] == []



# --- knowledge page ---------------------------------------------------------------------------


def test_knowledge_page_lists_my_documents_and_courses(client, user, other_user, django_assert_max_num_queries):
    from tests.factories import CourseFactory
    from tutorhub.knowledge.models import Document

    mine = CourseFactory(owner=user, name="Biology 101")
    CourseFactory(owner=other_user, name="Someone else's course")
    Document.objects.create(owner=user, name=XSS, document_type="pdf", processing_status="processing", progress_percentage=40)
    Document.objects.create(owner=other_user, name="Private notes", document_type="text")
    client.force_login(user)
    with django_assert_max_num_queries(6):
        response = client.get("/knowledge/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<img src=x" not in body and "Private notes" not in body
    start = body.index('<script id="initial-documents" type="application/json">') + len('<script id="initial-documents" type="application/json">')
    documents = json.loads(body[start : body.index("</script>", start)])
    assert [(d["name"], d["processing_status"], d["progress_percentage"]) for d in documents] == [(XSS, "processing", 40)]
    assert f'<option value="{mine.pk}">Biology 101</option>' in body
    assert "Someone else" not in body
    # The page's JavaScript posts to the knowledge API and polls its status endpoint.
    assert 'data-upload-url="/api/v1/knowledge/documents/upload/"' in body
    assert "/api/v1/knowledge/documents/00000000-0000-0000-0000-000000000000/processing_status/" in body


def test_every_asset_is_served_by_the_project(client, user):
    import re

    from django.contrib.staticfiles import finders

    client.force_login(user)
    for path in ("/", "/knowledge/", "/accounts/logout/", "/accounts/login/"):
        body = client.get(path, follow=True).content.decode()
        urls = re.findall(r'(?:src|href)="([^"]*)"', body)
        assert urls and not [u for u in urls if u.startswith(("http:", "https:", "//"))], path  # no CDN
        for url in urls:
            if url.startswith("/static/"):
                assert finders.find(url.removeprefix("/static/")), url


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/register/"])
def test_account_forms_are_rate_limited(client, settings, user, path):
    settings.THROTTLING_ENABLED = True
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "2/min"}}
    from django.core.cache import cache

    cache.clear()
    data = {"username": user.username, "password": "wrong", "password1": "x", "password2": "y", "email": "a@b.c"}
    assert 429 not in [client.post(path, data).status_code for _ in range(2)]
    blocked = client.post(path, {"username": user.username, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.content.decode()
    assert client.get("/").status_code == 302  # even the right password did not log in
    assert client.get(path).status_code == 200  # the page itself stays reachable
