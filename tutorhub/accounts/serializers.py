"""Request parsing and response shapes for accounts. Validation of input lives here; every state
change lives in services.py."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from tutorhub.accounts.models import ParentChildLink, User
from tutorhub.core.serializers import BuiltFieldsCacheMixin

# --- responses ------------------------------------------------------------------------------


class UserBriefSerializer(serializers.ModelSerializer):
    """The `user` object of login and register responses (every dialect that returns one)."""

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "role"]
        read_only_fields = fields


class UserProfileSerializer(BuiltFieldsCacheMixin, serializers.ModelSerializer):
    """The caller's own profile (canonical API profile, the web-chat dialect users/me: coins, role, language ...)."""

    study_goals = serializers.ListField(child=serializers.CharField(max_length=200), required=False, max_length=50)

    class Meta:
        model = User
        fields = ["id", "username", "email", "role", "coins", "date_joined", "last_login", *User.PROFILE_FIELDS]
        read_only_fields = ["id", "username", "email", "role", "coins", "date_joined", "last_login"]

    def validate_timezone(self, value: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise serializers.ValidationError("Unknown time zone (use an IANA name such as 'Europe/Berlin').") from exc
        return value


class UserAdminSerializer(UserProfileSerializer):
    """What an admin sees and may change about any user."""

    class Meta(UserProfileSerializer.Meta):
        fields = [*UserProfileSerializer.Meta.fields, "is_active", "is_staff"]
        read_only_fields = ["id", "username", "email", "coins", "date_joined", "last_login", "is_staff"]


class AuthTokensSerializer(serializers.Serializer):
    """Login response: a superset of every dialect (the token-chat dialect reads `token`, the web-chat dialect `message`)."""

    access = serializers.CharField()
    refresh = serializers.CharField()
    token = serializers.CharField(help_text="Key for `Authorization: Token <token>` (token-chat dialect).")
    user = UserBriefSerializer()
    message = serializers.CharField()


class RegisterResponseSerializer(serializers.Serializer):
    user = UserBriefSerializer()
    access = serializers.CharField()
    refresh = serializers.CharField()
    message = serializers.CharField()


class AuthMessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class RefreshResponseSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField(help_text="Refresh tokens rotate: store this one, the old one is now revoked.")


# --- requests -------------------------------------------------------------------------------


def _confirmed_password(attrs: dict[str, Any], *, password_keys: tuple[str, ...], confirm_keys: tuple[str, ...]) -> str:
    """Pick the password and its confirmation out of whichever spelling the client used
    (password/password2, password1/password2 or password/confirm_password: each dialect's names)."""
    password = next((attrs[k] for k in password_keys if attrs.get(k)), None)
    if password is None:
        raise serializers.ValidationError({password_keys[0]: ["This field is required."]})
    confirm_key = next((k for k in confirm_keys if attrs.get(k)), None)
    if confirm_key is None:
        raise serializers.ValidationError({confirm_keys[0]: ["This field is required."]})
    if attrs[confirm_key] != password:
        raise serializers.ValidationError({confirm_key: ["The two password fields didn't match."]})
    return password


def _validate_password_strength(password: str, user: User, *, field: str) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({field: list(exc.messages)}) from exc


def _password_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, max_length=128, style={"input_type": "password"}, **kwargs
    )


class RegisterSerializer(serializers.Serializer):
    """One serializer for every dialect's sign-up form."""

    username = serializers.CharField(max_length=150, validators=[User.username_validator])
    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    phone_number = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    language = serializers.CharField(max_length=16, required=False, allow_blank=True, default="en")
    password = _password_field(help_text="Or `password1` (token-chat dialect).")
    password1 = _password_field()
    password2 = _password_field(help_text="Confirmation; or `confirm_password` (web-chat dialect).")
    confirm_password = _password_field()

    def validate_email(self, value: str) -> str:
        # Whether the username or email is taken is the service's call (user_register): it
        # answers without saying which, so sign-up cannot probe for registered addresses.
        return value.strip().lower()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        password = _confirmed_password(
            attrs, password_keys=("password", "password1"), confirm_keys=("password2", "confirm_password")
        )
        candidate = User(**{k: attrs.get(k, "") for k in ("username", "email", "first_name", "last_name")})
        _validate_password_strength(password, candidate, field="password1" if attrs.get("password1") else "password")
        profile = {k: attrs[k] for k in ("username", "email", "first_name", "last_name", "phone_number", "language")}
        return {**profile, "password": password}


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=254, required=False, help_text="Username or email address.")
    email = serializers.CharField(max_length=254, required=False, help_text="Alternative to `username`.")
    password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        identifier = (attrs.get("username") or attrs.get("email") or "").strip()
        if not identifier:
            raise serializers.ValidationError({"username": ["This field is required."]})
        return {"identifier": identifier, "password": attrs["password"]}


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=2048)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(
        max_length=2048, required=False, help_text="Refresh token to revoke (blacklisted). Optional for Token clients."
    )


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = _password_field()
    new_password2 = _password_field(help_text="Confirmation; or `confirm_password`.")
    confirm_password = _password_field()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        password = _confirmed_password(
            attrs, password_keys=("new_password",), confirm_keys=("new_password2", "confirm_password")
        )
        return {"uid": attrs["uid"], "token": attrs["token"], "new_password": password}


class ParentChildLinkSerializer(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    child = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    parent_detail = UserBriefSerializer(source="parent", read_only=True)
    child_detail = UserBriefSerializer(source="child", read_only=True)

    class Meta:
        model = ParentChildLink
        fields = ["id", "parent", "child", "parent_detail", "child_detail", "created_at"]
        read_only_fields = ["id", "created_at"]
        # Duplicates are the service's business (a 409 with a clear message), not a generic validator's.
        validators: list = []
