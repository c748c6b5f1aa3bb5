"""Canonical account paths, relative to /api/v1/ (canonical API and the token-chat dialect)."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from tutorhub.accounts import views
from tutorhub.accounts.models import User
from tutorhub.core.schema import aliased

router = SimpleRouter()
router.register("accounts/users", views.UserAdminViewSet, basename="user")
router.register("accounts/parent-links", views.ParentLinkViewSet, basename="parent-link")

urlpatterns = [
    path("accounts/register/", views.RegisterView.as_view(), name="register"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("accounts/token-refresh/", views.TokenRefreshView.as_view(), name="token-refresh"),
    path(
        "accounts/token/refresh/",
        aliased(views.TokenRefreshView, "accounts_token_refresh_alt").as_view(),
        name="token-refresh-alt",
    ),
    path("accounts/password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("accounts/password-reset-confirm/", views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path("accounts/profile/", views.ProfileView.as_view(), name="profile"),
    path("accounts/children/", views.ChildrenView.as_view(), name="children"),
    path("accounts/register/teacher/", views.AdminRegisterView.as_view(role=User.Role.TEACHER), name="register-teacher"),
    path("accounts/register/student/", views.AdminRegisterView.as_view(role=User.Role.STUDENT), name="register-student"),
    path("accounts/register/parent/", views.AdminRegisterView.as_view(role=User.Role.PARENT), name="register-parent"),
    *router.urls,
]
