"""Forms of the built-in web app's account pages."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, BaseUserCreationForm

from tutorhub.accounts.forms import LockoutAwareLoginMixin


class LoginForm(LockoutAwareLoginMixin, AuthenticationForm):
    """Django's login form; the label says what UsernameOrEmailBackend accepts."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Username or email"
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autofocus": True})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class RegisterForm(BaseUserCreationForm):
    """Username, email and a password checked by AUTH_PASSWORD_VALIDATORS.

    Whether the username or email is taken is left to `user_register`, which refuses without
    saying which (so the form cannot probe for registered addresses): no uniqueness checks here."""

    email = forms.EmailField(required=True, widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    class Meta(BaseUserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autofocus": True})

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()  # stored lower-case, unique case-insensitively

    def _get_validation_exclusions(self) -> set[str]:
        # The model's unique checks and constraints on these two would name the taken field;
        # the form fields still validate their format.
        return {*super()._get_validation_exclusions(), "username", "email"}
