"""Login forms of the server-rendered pages (the web app's and the admin's)."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm

from tutorhub.accounts.loginlimit import LoginLocked


class LockoutAwareLoginMixin:
    """For Django's AuthenticationForm family: a lockout by the login limiter (raised by the
    authentication backend) becomes a form error instead of a server error, and `locked_for`
    (seconds) lets the view answer 429 with Retry-After."""

    locked_for: int | None = None

    def clean(self):
        try:
            return super().clean()
        except LoginLocked as exc:
            self.locked_for = int(exc.wait)
            raise forms.ValidationError(str(exc.detail), code="locked") from exc


class AdminLoginForm(LockoutAwareLoginMixin, AdminAuthenticationForm):
    pass
