"""The chatbot dialect (/api/accounts/..., /api/token/refresh/, /api/logout/) and the school and web-chat dialects
(/api/v1/auth/...) account paths: the canonical views, with the response shape adapted only
where a document shows a different one."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from tutorhub.accounts import services, views
from tutorhub.accounts.models import User
from tutorhub.accounts.serializers import RegisterSerializer, UserBriefSerializer
from tutorhub.core.schema import aliased


class FlatRegisterView(views.RegisterView):
    """The chatbot dialect answers a sign-up with the bare user object (the client logs in next)."""

    @extend_schema(
        tags=["auth"],
        auth=[],
        operation_id="legacy_accounts_register_create",
        request=RegisterSerializer,
        responses={201: UserBriefSerializer, 400: views.ERRORS[400]},
    )
    def post(self, request: Request) -> Response:
        return super().post(request)

    def build_response(self, issued: services.IssuedTokens) -> dict:
        return UserBriefSerializer(issued.user).data


seed_000 = [
    path("api/accounts/register/", FlatRegisterView.as_view()),
    path("api/accounts/login/", aliased(views.LoginView, "legacy_accounts_login").as_view()),
    path("api/accounts/profile/", aliased(views.ProfileView, "legacy_accounts_profile").as_view()),
    path("api/token/refresh/", views.TokenRefreshView.as_view()),
    path("api/logout/", views.LogoutView.as_view()),
]

users = views.UserAdminViewSet
seed_002_004 = [
    path("api/v1/auth/register/", views.RegisterView.as_view()),
    path("api/v1/auth/login/", views.LoginView.as_view()),
    path("api/v1/auth/logout/", views.LogoutView.as_view(success_message="Logout successful")),
    path("api/v1/auth/profile/", views.ProfileView.as_view()),
    path("api/v1/auth/refresh/", views.TokenRefreshView.as_view()),
    path("api/v1/auth/token/refresh/", views.TokenRefreshView.as_view()),
    path("api/v1/auth/users/me/", views.ProfileView.as_view()),
    path("api/v1/auth/users/", users.as_view({"get": "list"})),
    path("api/v1/auth/users/<int:pk>/", users.as_view({"get": "retrieve", "put": "update", "patch": "partial_update"})),
    # The web-chat dialect's pagination and search examples use /api/v1/users/.
    path("api/v1/users/", users.as_view({"get": "list"})),
    path("api/v1/auth/register/teacher/", views.AdminRegisterView.as_view(role=User.Role.TEACHER)),
    path("api/v1/auth/register/student/", views.AdminRegisterView.as_view(role=User.Role.STUDENT)),
]

urlpatterns = [*seed_000, *seed_002_004]
