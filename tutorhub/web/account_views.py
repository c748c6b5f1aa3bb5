"""Account pages beyond log in / register: forgot and reset password, profile.

They call the services behind the API's password-reset and profile routes: the reset email is
the API's (sent by the task worker through Django's email backend, its link pointing at
FRONTEND_URL/reset-password), and the profile is validated by the API's serializer."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from rest_framework import serializers

from tutorhub.accounts.serializers import UserProfileSerializer
from tutorhub.accounts.services import (
    user_password_reset_confirm,
    user_password_reset_request,
    user_profile_update,
)
from tutorhub.web.views import auth_form_throttled, form_errors_from

RESET_SENT = "If an account exists for that email, a password reset link has been sent."


class ForgotForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))


class ResetForm(forms.Form):
    uid = forms.CharField(widget=forms.HiddenInput, max_length=64)
    token = forms.CharField(widget=forms.HiddenInput, max_length=128)
    new_password = forms.CharField(
        label="New password", strip=False, max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
    )
    confirm = forms.CharField(
        label="Repeat the new password", strip=False, max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("new_password") and data.get("confirm") and data["new_password"] != data["confirm"]:
            self.add_error("confirm", "The two passwords differ.")
        return data


class ProfileForm(forms.Form):
    """What the profile page edits; validation is the API's (UserProfileSerializer)."""

    first_name = forms.CharField(required=False, max_length=150, widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    last_name = forms.CharField(required=False, max_length=150, widget=forms.TextInput(attrs={"autocomplete": "family-name"}))
    timezone = forms.CharField(max_length=64, help_text="An IANA name such as Europe/Berlin; streaks and due days follow it.")
    language = forms.CharField(required=False, max_length=16)
    bio = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


@require_http_methods(["GET", "POST"])
def forgot_password(request: HttpRequest) -> HttpResponse:
    form = ForgotForm(request.POST or None)
    if (refused := auth_form_throttled(request, form, "web/accounts/forgot.html")) is not None:
        return refused
    if request.method == "POST" and form.is_valid():
        user_password_reset_request(email=form.cleaned_data["email"])
        # The same answer whether or not the address has an account.
        return render(request, "web/accounts/forgot.html", {"form": ForgotForm(), "sent": RESET_SENT})
    return render(request, "web/accounts/forgot.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def reset_password(request: HttpRequest) -> HttpResponse:
    """The page the emailed link opens (`/reset-password?uid=...&token=...`)."""
    form = ResetForm(request.POST or None, initial={"uid": request.GET.get("uid", ""), "token": request.GET.get("token", "")})
    if (refused := auth_form_throttled(request, form, "web/accounts/reset.html")) is not None:
        return refused
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user_password_reset_confirm(uid=data["uid"], token=data["token"], new_password=data["new_password"])
        except serializers.ValidationError as exc:
            form_errors_from(form, exc)
        else:
            return render(request, "web/accounts/reset.html", {"done": True})
    missing_link = request.method == "GET" and not (request.GET.get("uid") and request.GET.get("token"))
    status = 400 if form.errors or missing_link else 200
    return render(request, "web/accounts/reset.html", {"form": form, "missing_link": missing_link}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def profile_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ProfileForm(request.POST or None, initial={name: getattr(user, name) for name in ProfileForm.base_fields})
    if request.method == "POST" and form.is_valid():
        serializer = UserProfileSerializer(user, data=form.cleaned_data, partial=True)
        try:
            serializer.is_valid(raise_exception=True)
        except serializers.ValidationError as exc:
            form_errors_from(form, exc)
        else:
            user_profile_update(user=user, data=serializer.validated_data)
            return redirect("web:profile")
    context = {"nav": "profile", "form": form}
    return render(request, "web/accounts/profile.html", context, status=400 if form.errors else 200)
