"""The web-chat dialect's web routes, served at the site root."""

from __future__ import annotations

from django.urls import path

from tutorhub.web import account_views, api, study_views, views

app_name = "web"

urlpatterns = [
    path("accounts/register/", views.register, name="register"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("accounts/password/forgot/", account_views.forgot_password, name="password-forgot"),
    # The path the API's reset email links to (FRONTEND_URL + /reset-password?uid=...&token=...).
    path("reset-password/", account_views.reset_password, name="password-reset"),
    path("accounts/profile/", account_views.profile_page, name="profile"),
    path("flashcards/", study_views.flashcards_page, name="flashcards"),
    path("flashcards/new/", study_views.flashcard_edit, name="flashcard-new"),
    path("flashcards/<uuid:card_id>/edit/", study_views.flashcard_edit, name="flashcard-edit"),
    path("quizzes/", study_views.quizzes_page, name="quizzes"),
    path("quizzes/<uuid:quiz_id>/start/", study_views.quiz_start, name="quiz-start"),
    path("quizzes/attempts/<uuid:attempt_id>/", study_views.quiz_attempt, name="quiz-attempt"),
    path("progress/", study_views.progress_page, name="progress"),
    path("", views.chat_home, name="chat-home"),
    path("chat/<uuid:session_id>/", views.chat_session_page, name="chat-session"),
    path("chat/session/create/", api.SessionCreateView.as_view(), name="session-create"),
    path("chat/session/<uuid:session_id>/rename/", api.SessionRenameView.as_view(), name="session-rename"),
    path("chat/session/<uuid:session_id>/delete/", api.SessionDeleteView.as_view(), name="session-delete"),
    path("load_session/<uuid:session_id>/", api.SessionLoadView.as_view(), name="session-load"),
    path("knowledge/", views.knowledge_page, name="knowledge"),
    path("knowledge/documents/<uuid:document_id>/", views.document_page, name="document"),
    path("passages/<int:chunk_id>/", api.PassageView.as_view(), name="passage"),
]
