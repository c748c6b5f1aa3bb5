"""Seed 004's web routes, served at the site root."""

from __future__ import annotations

from django.urls import path

from tutorhub.web import api, views

app_name = "web"

urlpatterns = [
    path("accounts/register/", views.register, name="register"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("", views.chat_home, name="chat-home"),
    path("chat/<uuid:session_id>/", views.chat_session_page, name="chat-session"),
    path("chat/session/create/", api.SessionCreateView.as_view(), name="session-create"),
    path("chat/session/<uuid:session_id>/rename/", api.SessionRenameView.as_view(), name="session-rename"),
    path("chat/session/<uuid:session_id>/delete/", api.SessionDeleteView.as_view(), name="session-delete"),
    path("load_session/<uuid:session_id>/", api.SessionLoadView.as_view(), name="session-load"),
    path("knowledge/", views.knowledge_page, name="knowledge"),
]
