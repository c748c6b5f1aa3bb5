"""Password reset: the token is emailed through Django's email backend, confirm sets the password."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from rest_framework_simplejwt.tokens import RefreshToken

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW = "Brand-New-Passw0rd"


def request_reset(client, email, capture):
    with capture(execute=True):
        return client.post("/api/v1/accounts/password-reset/", {"email": email}, format="json")


def emailed_uid_and_token() -> tuple[str, str]:
    body = mail.outbox[-1].body
    return re.search(r"uid=([\w-]+)", body).group(1), re.search(r"token=([\w-]+)", body).group(1)


def test_reset_round_trip(anon_client, user, django_capture_on_commit_callbacks):
    old_refresh = str(RefreshToken.for_user(user))
    response = request_reset(anon_client, user.email.upper(), django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    assert "reset-password?uid=" in mail.outbox[0].body
    uid, token = emailed_uid_and_token()

    response = anon_client.post(
        "/api/v1/accounts/password-reset-confirm/",
        {"uid": uid, "token": token, "new_password": NEW, "new_password2": NEW},
        format="json",
    )
    assert response.status_code == 200, response.json()
    user.refresh_from_db()
    assert user.check_password(NEW)
    # Old sessions end, the link is single-use, and the new password logs in.
    assert anon_client.post("/api/token/refresh/", {"refresh": old_refresh}, format="json").status_code == 401
    reuse = anon_client.post(
        "/api/v1/accounts/password-reset-confirm/",
        {"uid": uid, "token": token, "new_password": NEW, "confirm_password": NEW},
        format="json",
    )
    assert reuse.status_code == 400 and "token" in reuse.json()["details"]
    login = anon_client.post("/api/v1/accounts/login/", {"username": user.username, "password": NEW}, format="json")
    assert login.status_code == 200


def test_unknown_email_gets_the_same_answer_and_no_mail(anon_client, user, django_capture_on_commit_callbacks):
    known = request_reset(anon_client, user.email, django_capture_on_commit_callbacks)
    unknown = request_reset(anon_client, "nobody@example.com", django_capture_on_commit_callbacks)
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "override, field",
    [
        ({"token": "1-abc"}, "token"),
        ({"uid": "!!!"}, "token"),
        ({"uid": "OTk5OTk"}, "token"),  # base64 of a pk that does not exist
        ({"new_password2": "Other-Passw0rd"}, "new_password2"),
        ({"new_password": "123", "new_password2": "123"}, "new_password"),
    ],
)
def test_bad_confirmations_are_400(anon_client, user, django_capture_on_commit_callbacks, override, field):
    request_reset(anon_client, user.email, django_capture_on_commit_callbacks)
    uid, token = emailed_uid_and_token()
    data = {"uid": uid, "token": token, "new_password": NEW, "new_password2": NEW, **override}
    response = anon_client.post("/api/v1/accounts/password-reset-confirm/", data, format="json")
    assert response.status_code == 400
    assert field in response.json()["details"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_reset_request_needs_a_valid_email(anon_client):
    response = anon_client.post("/api/v1/accounts/password-reset/", {"email": "nope"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()
