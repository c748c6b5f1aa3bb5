"""Account use cases: sign-up, login, token refresh and revocation, password reset, profile,
parent↔child links. Views parse input, call one of these, and serialize the result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, password_validation, user_logged_in
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework import exceptions, serializers
from rest_framework.authtoken.models import Token
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from tutorhub.accounts.models import ParentChildLink, User
from tutorhub.core.exceptions import Conflict, ServiceError


@dataclass(frozen=True)
class IssuedTokens:
    user: User
    access: str
    refresh: str
    token: str | None = None  # DRF authtoken key (token-chat dialect); only login issues one


def _jwt_pair(user: User) -> tuple[str, str]:
    refresh = RefreshToken.for_user(user)  # records an OutstandingToken, so it can be blacklisted
    return str(refresh.access_token), str(refresh)


REGISTRATION_REFUSED = (
    "An account with this username or email address already exists. "
    "If it is yours, log in or reset your password."
)


def _registration_refused(*, username: str, email: str, by_admin: bool) -> serializers.ValidationError:
    """The error for a sign-up whose username or email is taken.

    A public sign-up gets one message for both, so it cannot be used to learn whether an email
    address has an account; the address's owner is told by email instead (after commit). An
    admin, who can list users anyway, gets the field."""
    owner = User.objects.filter(email__iexact=email, is_active=True).only("pk").first()
    if by_admin:
        field = "email" if owner is not None else "username"
        return serializers.ValidationError({field: [f"A user with that {field} already exists."]})
    if owner is not None:
        from tutorhub.accounts.tasks import registration_attempt_email_send  # tasks import this module

        transaction.on_commit(lambda: registration_attempt_email_send.enqueue(user_id=owner.pk))
    return serializers.ValidationError({"non_field_errors": [REGISTRATION_REFUSED]})


def _sign_up_taken(*, username: str, email: str) -> bool:
    return User.objects.filter(Q(username__iexact=username) | Q(email__iexact=email)).exists()


def user_register(
    *,
    username: str,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    phone_number: str = "",
    language: str = "en",
    role: str = User.Role.STUDENT,
    by_admin: bool = False,
) -> IssuedTokens:
    """Create an active user (password already validated) and issue a JWT pair.

    Raises ValidationError when the username or email is taken (case-insensitively; the
    unique constraints decide a race): a generic one, see `_registration_refused`.

    The password is hashed before the transaction opens (SQLite's one write lock must not wait
    for a deliberately slow hash), and before the taken-check, so a refused sign-up costs the
    same time as an accepted one."""
    encoded = make_password(password)
    if _sign_up_taken(username=username, email=email):
        raise _registration_refused(username=username, email=email, by_admin=by_admin)
    user = User(
        username=username,
        email=email,
        password=encoded,
        first_name=first_name,
        last_name=last_name,
        phone_number=phone_number,
        language=language or "en",
        role=role,
    )
    try:
        with transaction.atomic():
            user.save()
            access, refresh = _jwt_pair(user)
    except IntegrityError as exc:
        raise _registration_refused(username=username, email=email, by_admin=by_admin) from exc
    return IssuedTokens(user=user, access=access, refresh=refresh)


def _email_active_user(user_id: int, subject: str, compose: Callable[[User], str]) -> bool:
    """Mail `compose(user)` after a greeting to an active user with an address (Django's email
    backend: console unless EMAIL_HOST is set). Returns False if there is nobody to mail."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        return False
    send_mail(subject, f"Hello {user.first_name or user.username},\n\n{compose(user)}", None, [user.email])
    return True


def user_registration_attempt_email_send(*, user_id: int) -> bool:
    """Tell an account's owner that someone tried to sign up with their email address (the
    sign-up itself was refused without saying why). Returns False if the user is gone."""

    def compose(user: User) -> str:
        return (
            f"Someone tried to create a new TutorHub account with this email address. You already have an "
            f"account with the username {user.username}, so no new account was made.\n\n"
            f"If it was you, log in at {settings.FRONTEND_URL.rstrip('/')}/ or reset your password there.\n"
            f"If it was not you, you can ignore this email: your account has not changed.\n"
        )

    return _email_active_user(user_id, "Sign-up attempt with your email address", compose)


def user_login(*, identifier: str, password: str, request: Any = None) -> IssuedTokens:
    """Check credentials (username or email) and issue a JWT pair plus the seed-003 token.

    Raises AuthenticationFailed (401) for unknown users, wrong passwords and inactive accounts
    alike, so the response does not reveal which accounts exist, and LoginLocked (429) while
    the account or the client address is locked out by repeated failures.

    The password is checked before any transaction opens: hashing takes a second or more on
    purpose, and on SQLite an open write transaction would hold the database's one write lock
    for all of it."""
    django_request = getattr(request, "_request", request)
    user = authenticate(django_request, username=identifier, password=password)
    if user is None:
        raise exceptions.AuthenticationFailed("Invalid username or password.", code="invalid_credentials")
    with transaction.atomic():
        user_logged_in.send(sender=type(user), request=django_request, user=user)  # last_login
        access, refresh = _jwt_pair(user)
        token, _ = Token.objects.get_or_create(user=user)
    return IssuedTokens(user=user, access=access, refresh=refresh, token=token.key)


def _parse_refresh(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)  # checks signature, expiry, type and the blacklist
    except TokenError as exc:
        raise InvalidToken({"detail": str(exc), "code": "token_not_valid"}) from exc


def _blacklist_once(token: RefreshToken) -> None:
    """Blacklist `token`; exactly one of two concurrent callers succeeds, the other gets 401.

    The BlacklistedToken row is unique per token, so the database serializes the race that
    simplejwt's check-then-blacklist leaves open (two refreshes of one token both winning)."""
    outstanding, _ = token.outstand()  # (OutstandingToken, created): tokens are recorded at issue
    try:
        with transaction.atomic():
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError as exc:
        raise InvalidToken({"detail": "Token is blacklisted", "code": "token_not_valid"}) from exc


@transaction.atomic
def token_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate a refresh token: the given one is blacklisted and a new pair is returned.

    Raises InvalidToken (401) for garbage, expired or already-used tokens and
    AuthenticationFailed (401) when the account was deleted or deactivated."""
    token = _parse_refresh(refresh)
    user = User.objects.filter(pk=token.payload.get("user_id"), is_active=True).first()
    if user is None:
        raise exceptions.AuthenticationFailed("No active account found for the given token.", code="no_active_account")
    _blacklist_once(token)
    access, new_refresh = _jwt_pair(user)
    return {"access": access, "refresh": new_refresh}


@transaction.atomic
def user_logout(*, user: User, refresh: str | None = None) -> None:
    """Revoke the caller's seed-003 token and, when given, blacklist their refresh token.

    Raises InvalidToken (401) for a refresh token that is invalid, already revoked or not the
    caller's."""
    if refresh:
        token = _parse_refresh(refresh)
        if str(token.payload.get("user_id")) != str(user.pk):
            raise InvalidToken({"detail": "Token is invalid", "code": "token_not_valid"})
        _blacklist_once(token)
    Token.objects.filter(user=user).delete()


@transaction.atomic
def user_sessions_revoke(*, user: User) -> None:
    """End every session of `user`: blacklist all unexpired refresh tokens, drop the authtoken."""
    outstanding = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=t) for t in outstanding], ignore_conflicts=True
    )
    Token.objects.filter(user=user).delete()


def user_password_reset_request(*, email: str) -> None:
    """Email a reset link to the active account with this address, if there is one.

    Always returns normally so the response cannot be used to probe which emails exist; the
    mail goes out from a background task after commit."""
    from tutorhub.accounts.tasks import password_reset_email_send  # tasks import this module

    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is not None and user.has_usable_password():
        transaction.on_commit(lambda: password_reset_email_send.enqueue(user_id=user.pk))


def user_password_reset_email_send(*, user_id: int) -> bool:
    """Send the reset email through Django's email backend (console unless EMAIL_HOST is set).

    The token is made here, at send time: it is bound to the password hash and last login,
    so it stops working once the password changes. Returns False if the user is gone."""

    def compose(user: User) -> str:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        link = f"{settings.FRONTEND_URL.rstrip('/')}/reset-password?uid={uid}&token={token}"
        hours = settings.PASSWORD_RESET_TIMEOUT // 3600
        return (
            f"Someone asked to reset the password of your TutorHub account. Open this link to choose a new one:\n\n"
            f"{link}\n\n"
            f"Or send uid={uid} and token={token} with your new password to "
            f"POST /api/v1/accounts/password-reset-confirm/.\n\n"
            f"The link is valid for {hours} hours. If you did not ask for this, ignore this email.\n"
        )

    return _email_active_user(user_id, "Reset your TutorHub password", compose)


def user_password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password from an emailed (uid, token) and end every existing session.

    Raises ValidationError: `token` when the link is invalid, expired or used; `new_password`
    when Django's password validators reject it.

    The new password is hashed outside the transaction; inside it the token is checked again
    on the locked row, so of two concurrent uses of one link only the first changes anything
    (the token is bound to the password hash, which the first one changes)."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uid)))
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError):
        pk = None

    def valid_user(queryset) -> User:
        user = queryset.filter(pk=pk, is_active=True).first() if pk else None
        if user is None or not default_token_generator.check_token(user, token):
            raise serializers.ValidationError({"token": ["The reset link is invalid or has expired."]})
        return user

    user = valid_user(User.objects.all())
    try:
        password_validation.validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({"new_password": list(exc.messages)}) from exc
    encoded = make_password(new_password)
    with transaction.atomic():
        user = valid_user(User.objects.select_for_update())
        user.password = encoded
        user.save(update_fields=["password"])
        user_sessions_revoke(user=user)
    return user


@transaction.atomic
def user_profile_update(*, user: User, data: dict[str, Any]) -> User:
    """Apply validated profile fields (only those a user may edit about themselves)."""
    changed = [field for field in User.PROFILE_FIELDS if field in data]
    for field in changed:
        setattr(user, field, data[field])
    if changed:
        user.save(update_fields=changed)
    return user


@transaction.atomic
def user_admin_update(*, actor: User, user: User, data: dict[str, Any]) -> User:
    """An admin changes another account (profile fields, role, active flag).

    Deactivating ends the user's sessions. Raises ServiceError when admins would lock
    themselves out (demote or deactivate their own account)."""
    if user.pk == actor.pk and (data.get("is_active") is False or data.get("role", user.role) != user.role):
        raise ServiceError("You cannot demote or deactivate your own account.", error_code="SELF_LOCKOUT")
    for field, value in data.items():
        setattr(user, field, value)
    user.save()
    if not user.is_active:
        user_sessions_revoke(user=user)
    return user


@transaction.atomic
def parent_child_link(*, parent: User, child: User) -> ParentChildLink:
    """Link a parent (or guardian) account to a student so they get the child's reports.

    Raises ValidationError when the roles don't fit, Conflict (409) when already linked."""
    if parent.pk == child.pk:
        raise serializers.ValidationError({"child": ["A user cannot be their own parent."]})
    if parent.role != User.Role.PARENT:
        raise serializers.ValidationError({"parent": ["This user does not have the parent role."]})
    if child.role != User.Role.STUDENT:
        raise serializers.ValidationError({"child": ["Only students can be linked as children."]})
    link, created = ParentChildLink.objects.get_or_create(parent=parent, child=child)
    if not created:
        raise Conflict("These accounts are already linked.", error_code="ALREADY_LINKED")
    return link


@transaction.atomic
def parent_child_unlink(*, link: ParentChildLink) -> None:
    link.delete()
