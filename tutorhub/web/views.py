"""Server-rendered pages of the built-in web app (the web-chat dialect's routes).

Pages are thin: they read through the domain selectors and render; every change of state
happens through the JSON routes in `api.py` or the `ws/chat/` consumer."""

from __future__ import annotations

import math
from uuid import UUID

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from rest_framework import serializers

from tutorhub.accounts.services import user_register
from tutorhub.chat.selectors import chat_session_get
from tutorhub.chat.serializers import MAX_MESSAGE_CHARS
from tutorhub.core.throttling import ScopedRateThrottle
from tutorhub.knowledge.extraction import KINDS
from tutorhub.knowledge.selectors import document_list_for_api
from tutorhub.knowledge.serializers import DocumentSerializer
from tutorhub.web.forms import LoginForm, RegisterForm
from tutorhub.web.selectors import (
    chat_history,
    document_get_for_page,
    sidebar_sessions,
    upload_course_choices,
)

# The sidebar shows the most recent sessions; older ones stay reachable through the API.
SIDEBAR_SESSIONS = 100
# The knowledge page lists the most recent documents.
DOCUMENTS_SHOWN = 50
# Stands in for a session id in URL templates handed to the page's JavaScript.
PLACEHOLDER_ID = UUID(int=0)


class _AuthScope:
    """The API's "auth" rate limit (THROTTLE_AUTH) also guards the HTML forms against
    password guessing and mass sign-up."""

    throttle_scope = "auth"


def _auth_throttle_wait(request: HttpRequest) -> int | None:
    """Seconds to wait when this POST is over the client address's "auth" budget, else None."""
    if request.method != "POST":
        return None
    throttle = ScopedRateThrottle()
    if throttle.allow_request(request, _AuthScope):
        return None
    return max(1, math.ceil(throttle.wait() or 1))


def _too_many(response: HttpResponse, wait: int) -> HttpResponse:
    response.status_code = 429
    response["Retry-After"] = str(wait)
    return response


TOO_MANY = "Too many attempts. Please wait a minute and try again."


def auth_form_throttled(request: HttpRequest, form, template: str) -> HttpResponse | None:
    """For a POST over the "auth" budget: the form's page with the reason, as a 429; else None."""
    wait = _auth_throttle_wait(request)
    if wait is None:
        return None
    form.full_clean()
    form.add_error(None, TOO_MANY)
    return _too_many(render(request, template, {"form": form}), wait)


def form_errors_from(form, exc: serializers.ValidationError) -> None:
    """A service's ValidationError shown on the form: on its field, or above the form."""
    detail = exc.detail if isinstance(exc.detail, dict) else {None: exc.detail}
    for field, errors in detail.items():
        form.add_error(field if field in form.fields else None, [str(e) for e in errors])


class LoginView(auth_views.LoginView):
    """The API's login limits apply here too: the "auth" scope per client address (above) and
    the per-account/per-address lockouts of the authentication backend (LoginForm)."""

    template_name = "web/accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        wait = _auth_throttle_wait(request)
        if wait is not None:
            form = self.get_form()
            form.add_error(None, TOO_MANY)
            return _too_many(self.render_to_response(self.get_context_data(form=form)), wait)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.locked_for is not None:
            return _too_many(response, form.locked_for)
        return response


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("web:chat-home")
    form = RegisterForm(request.POST or None)
    if (refused := auth_form_throttled(request, form, "web/accounts/register.html")) is not None:
        return refused
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            # The same sign-up as the API (its race handling included); the JWT pair it also
            # issues is simply not used by a browser session.
            user = user_register(username=data["username"], email=data["email"], password=data["password1"]).user
        except serializers.ValidationError as exc:  # a concurrent sign-up took the name or email
            form_errors_from(form, exc)
        else:
            login(request, user, backend="tutorhub.accounts.backends.UsernameOrEmailBackend")
            return redirect("web:chat-home")
    return render(request, "web/accounts/register.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    """Log out on a POST (CSRF-checked by the middleware). A GET only shows the confirm button:
    a link, an <img> or a prefetch on another site must not be able to log anyone out."""
    if request.method == "POST":
        logout(request)
        return redirect("web:login")
    if not request.user.is_authenticated:
        return redirect("web:login")
    return render(request, "web/accounts/logout.html")


def _chat_page(request: HttpRequest, *, session=None) -> HttpResponse:
    context = {
        "nav": "chat",
        "sessions": sidebar_sessions(user=request.user, limit=SIDEBAR_SESSIONS),
        "current": session,
        "chats": chat_history(session=session) if session is not None else [],
        "placeholder_id": PLACEHOLDER_ID,
        "max_message_chars": MAX_MESSAGE_CHARS,
    }
    return render(request, "web/chat.html", context)


@login_required
def chat_home(request: HttpRequest) -> HttpResponse:
    return _chat_page(request)


@login_required
def chat_session_page(request: HttpRequest, session_id: UUID) -> HttpResponse:
    return _chat_page(request, session=chat_session_get(user=request.user, session_id=session_id))


@login_required
def knowledge_page(request: HttpRequest) -> HttpResponse:
    documents = DocumentSerializer(document_list_for_api(user=request.user)[:DOCUMENTS_SHOWN], many=True).data
    context = {
        "nav": "knowledge",
        "documents": documents,
        "courses": upload_course_choices(user=request.user),
        "accept": ",".join([".pdf", ".docx", ".txt", ".md", ".html", ".htm", ".png", ".jpg", ".jpeg", *KINDS.values()]),
        "max_mb": settings.DOCUMENT_UPLOAD_MAX_SIZE // (1024 * 1024),
        "placeholder_id": PLACEHOLDER_ID,
    }
    return render(request, "web/knowledge.html", context)


@login_required
def document_page(request: HttpRequest, document_id: UUID) -> HttpResponse:
    """A document's extracted text (what the tutor reads and cites), for whoever may see it."""
    document = document_get_for_page(user=request.user, document_id=document_id)
    return render(request, "web/document.html", {"nav": "knowledge", "document": document})
