from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from tutorhub.accounts.loginlimit import LoginAttempt
from tutorhub.core.db import release_pooled_connection


class UsernameOrEmailBackend(ModelBackend):
    """Log in with a username or an email address (canonical API clients send the email as `username`).

    Every password check goes through the login limiter here, so all login paths (API and its
    aliases, web form, admin) share one budget per account and per address. Raises LoginLocked
    (a DRF Throttled, 429) instead of checking the password while either is locked."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        User = get_user_model()
        identifier = (username or kwargs.get("email") or "").strip()
        if not identifier or password is None:
            return None
        # Emails and usernames are unique case-insensitively, so "Alice" logs in as "alice".
        lookup = {"email__iexact": identifier} if "@" in identifier else {"username__iexact": identifier}
        user = User._default_manager.filter(**lookup).first()
        if user is None and "@" in identifier:
            user = User._default_manager.filter(username__iexact=identifier).first()
        attempt = LoginAttempt(identifier=identifier, user_pk=user.pk if user else None, request=request)
        attempt.check()
        release_pooled_connection()  # hashing takes a second or more and needs no connection
        if user is None:
            User().set_password(password)  # same work as a real check: no timing oracle for unknown users
        elif user.check_password(password) and self.user_can_authenticate(user):
            attempt.succeeded()
            return user
        attempt.failed()
        return None
