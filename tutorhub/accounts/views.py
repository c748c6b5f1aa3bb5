"""Account endpoints (canonical paths in urls.py; other dialects' paths alias these in
tutorhub/compat/accounts.py)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.accounts import selectors, services
from tutorhub.accounts.models import User
from tutorhub.accounts.serializers import (
    AuthMessageSerializer,
    AuthTokensSerializer,
    LoginSerializer,
    LogoutSerializer,
    ParentChildLinkSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    RefreshResponseSerializer,
    RefreshSerializer,
    RegisterResponseSerializer,
    RegisterSerializer,
    UserAdminSerializer,
    UserBriefSerializer,
    UserProfileSerializer,
)
from tutorhub.core.permissions import IsAdminRole

ERRORS = {
    400: OpenApiResponse(description="Validation error (envelope with field keys)"),
    401: OpenApiResponse(description="Not authenticated / invalid token"),
    429: OpenApiResponse(description="Rate limited"),
}


def _validated(serializer_class, request: Request) -> dict:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class _IgnoreCredentials(BaseAuthentication):
    """Reads no credentials, yet names the scheme so a failed login is a 401 (DRF turns an
    AuthenticationFailed into a 403 when no authenticator offers a WWW-Authenticate header)."""

    def authenticate(self, request):
        return None

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class _PublicAuthView(APIView):
    """Sign-up, login, refresh and reset take no credentials: a stale `Authorization` header
    must not turn a login into a 401, and the `auth` scope limits guessing."""

    authentication_classes = [_IgnoreCredentials]
    permission_classes = [AllowAny]
    throttle_scope = "auth"


class RegisterView(_PublicAuthView):
    success_message = "User registered successfully"

    @extend_schema(
        tags=["auth"],
        auth=[],
        request=RegisterSerializer,
        responses={201: RegisterResponseSerializer, 400: ERRORS[400], 429: ERRORS[429]},
        summary="Create an account (password + password2 | password1 + password2 | password + confirm_password)",
    )
    def post(self, request: Request) -> Response:
        issued = services.user_register(**_validated(RegisterSerializer, request))
        return Response(self.build_response(issued), status=status.HTTP_201_CREATED)

    def build_response(self, issued: services.IssuedTokens) -> dict:
        return {
            "user": UserBriefSerializer(issued.user).data,
            "access": issued.access,
            "refresh": issued.refresh,
            "message": self.success_message,
        }


class LoginView(_PublicAuthView):
    @extend_schema(
        tags=["auth"],
        auth=[],
        request=LoginSerializer,
        responses={200: AuthTokensSerializer, 400: ERRORS[400], 401: ERRORS[401], 429: ERRORS[429]},
        summary="Log in with username or email; returns JWT access/refresh and a seed-003 token",
    )
    def post(self, request: Request) -> Response:
        issued = services.user_login(**_validated(LoginSerializer, request), request=request)
        return Response(
            {
                "access": issued.access,
                "refresh": issued.refresh,
                "token": issued.token,
                "user": UserBriefSerializer(issued.user).data,
                "message": "Login successful",
            }
        )


class TokenRefreshView(_PublicAuthView):
    throttle_scope = None  # refreshing is routine client traffic, limited by the anon rate only

    @extend_schema(
        tags=["auth"],
        auth=[],
        request=RefreshSerializer,
        responses={200: RefreshResponseSerializer, 400: ERRORS[400], 401: ERRORS[401]},
        summary="Exchange a refresh token for a new pair (the old refresh token is revoked)",
    )
    def post(self, request: Request) -> Response:
        return Response(services.token_refresh(**_validated(RefreshSerializer, request)))


class LogoutView(APIView):
    permission_classes = [IsAuthenticated]
    success_message = "Successfully logged out."

    @extend_schema(
        tags=["auth"],
        request=LogoutSerializer,
        responses={200: AuthMessageSerializer, 401: ERRORS[401]},
        summary="Blacklist the refresh token (if given) and revoke the seed-003 token",
    )
    def post(self, request: Request) -> Response:
        services.user_logout(user=request.user, **_validated(LogoutSerializer, request))
        return Response({"message": self.success_message})


class PasswordResetView(_PublicAuthView):
    @extend_schema(
        tags=["auth"],
        auth=[],
        request=PasswordResetSerializer,
        responses={200: AuthMessageSerializer, 400: ERRORS[400], 429: ERRORS[429]},
        summary="Email a password-reset link (same answer whether or not the account exists)",
    )
    def post(self, request: Request) -> Response:
        services.user_password_reset_request(**_validated(PasswordResetSerializer, request))
        return Response({"message": "If an account exists for that email, a password reset link has been sent."})


class PasswordResetConfirmView(_PublicAuthView):
    @extend_schema(
        tags=["auth"],
        auth=[],
        request=PasswordResetConfirmSerializer,
        responses={200: AuthMessageSerializer, 400: ERRORS[400], 429: ERRORS[429]},
        summary="Set a new password with the emailed uid and token; ends all sessions",
    )
    def post(self, request: Request) -> Response:
        services.user_password_reset_confirm(**_validated(PasswordResetConfirmSerializer, request))
        return Response({"message": "Password has been reset. Log in with the new password."})


@extend_schema(tags=["accounts"])
class ProfileView(generics.RetrieveUpdateAPIView):
    """The caller's own profile (also `users/me/` of the web-chat dialect)."""

    serializer_class = UserProfileSerializer
    permission_classes = [IsAuthenticated]

    def get_object(self) -> User:
        return self.request.user

    def perform_update(self, serializer: UserProfileSerializer) -> None:
        serializer.instance = services.user_profile_update(user=self.request.user, data=serializer.validated_data)


@extend_schema(tags=["accounts"])
class UserAdminViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """Admin user management: list with `role`, `is_active`, `search`, `page` filters; change
    role, active flag and profile fields. Accounts are created through register/teacher|student/."""

    serializer_class = UserAdminSerializer
    permission_classes = [IsAdminRole]
    filterset_fields = ["role", "is_active"]
    search_fields = ["username", "email", "first_name", "last_name", "phone_number"]
    ordering_fields = ["date_joined", "username", "last_name", "coins"]
    queryset = User.objects.none()  # for the schema; get_queryset is the real one

    def get_queryset(self):
        return selectors.user_list()

    def perform_update(self, serializer: UserAdminSerializer) -> None:
        serializer.instance = services.user_admin_update(
            actor=self.request.user, user=serializer.instance, data=serializer.validated_data
        )


class AdminRegisterView(APIView):
    """The web-chat dialect: an admin creates a teacher or student account (and here a parent account)."""

    permission_classes = [IsAdminRole]
    role = User.Role.STUDENT

    @extend_schema(
        tags=["accounts"],
        request=RegisterSerializer,
        responses={201: UserAdminSerializer, 400: ERRORS[400], 403: OpenApiResponse(description="Admins only")},
    )
    def post(self, request: Request) -> Response:
        issued = services.user_register(**_validated(RegisterSerializer, request), role=self.role, by_admin=True)
        return Response(UserAdminSerializer(issued.user).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["accounts"])
class ParentLinkViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Admins link parents to students (weekly reports go to linked parents)."""

    serializer_class = ParentChildLinkSerializer
    permission_classes = [IsAdminRole]
    filterset_fields = ["parent", "child"]
    ordering_fields = ["created_at"]
    queryset = selectors.parent_link_list().none()

    def get_queryset(self):
        return selectors.parent_link_list()

    def perform_create(self, serializer: ParentChildLinkSerializer) -> None:
        serializer.instance = services.parent_child_link(**serializer.validated_data)

    def perform_destroy(self, instance) -> None:
        services.parent_child_unlink(link=instance)


@extend_schema_view(
    get=extend_schema(
        tags=["accounts"],
        parameters=[OpenApiParameter("parent", int, description="Admins only: whose children to list.")],
    )
)
class ChildrenView(generics.ListAPIView):
    """A parent's linked children; an admin may pass `?parent=<id>` to see anyone's."""

    serializer_class = UserBriefSerializer
    permission_classes = [IsAuthenticated]
    filter_backends: list = []

    def get_queryset(self):
        parent = self.request.user
        parent_id = self.request.query_params.get("parent")
        if parent_id and IsAdminRole().has_permission(self.request, self):
            parent = get_object_or_404(selectors.user_list(), pk=parent_id if parent_id.isdigit() else None)
        return selectors.user_children(parent=parent)
