"""Bad input on the auth paths: a clear 4xx in the error envelope, never a 500."""

from __future__ import annotations

from unittest import mock

import pytest

from tests.factories import PASSWORD, UserFactory
from tutorhub.accounts.models import User
from tutorhub.accounts.services import REGISTRATION_REFUSED

pytestmark = pytest.mark.django_db

GOOD = "Corr3ct-Horse-Battery"
REGISTER = "/api/v1/accounts/register/"
LOGIN = "/api/v1/accounts/login/"


def register(client, **fields):
    data = {"username": "newbie", "email": "newbie@example.com", "password": GOOD, "password2": GOOD, **fields}
    return client.post(REGISTER, {k: v for k, v in data.items() if v is not None}, format="json")


def assert_envelope(body: dict, *, code: str) -> None:
    assert {"detail", "error", "error_code", "details", "request_id", "timestamp"} <= set(body)
    assert body["error_code"] == code


def test_wrong_password_is_401_without_revealing_the_account(anon_client, user):
    wrong = anon_client.post(LOGIN, {"username": user.username, "password": "nope-nope-1"}, format="json")
    unknown = anon_client.post(LOGIN, {"username": "ghost", "password": "nope-nope-1"}, format="json")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] == "Invalid username or password."
    assert_envelope(wrong.json(), code="AUTHENTICATION_FAILED")


def test_inactive_user_cannot_log_in(anon_client):
    user = UserFactory(is_active=False)
    response = anon_client.post(LOGIN, {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 401


def test_duplicate_email_in_another_case_is_a_400_that_does_not_name_the_email(anon_client):
    # Naming the field would let anyone probe which addresses have accounts (issue 11); the
    # owner of the address is emailed instead (tests/security/test_identity.py).
    UserFactory(email="taken@example.com")
    response = register(anon_client, email="TAKEN@Example.COM")
    assert response.status_code == 400
    body = response.json()
    assert_envelope(body, code="VALIDATION_ERROR")
    assert body["non_field_errors"] == [REGISTRATION_REFUSED]
    assert body["details"] == {"non_field_errors": [REGISTRATION_REFUSED]}
    assert User.objects.count() == 1


def test_duplicate_username_in_another_case_gets_the_same_400(anon_client):
    UserFactory(username="Alice")
    response = register(anon_client, username="alice")
    assert response.status_code == 400
    assert response.json()["non_field_errors"] == [REGISTRATION_REFUSED]


def test_admins_creating_accounts_get_the_taken_field(admin_user):
    from tests.conftest import client_for

    UserFactory(username="Taken", email="taken@example.com")
    client = client_for(admin_user)
    body = {"username": "fresh", "email": "taken@example.com", "password": GOOD, "confirm_password": GOOD}
    response = client.post("/api/v1/auth/register/student/", body, format="json")
    assert response.status_code == 400
    assert response.json()["email"] == ["A user with that email already exists."]
    response = client.post("/api/v1/auth/register/student/", {**body, "username": "taken", "email": "new@example.com"}, format="json")
    assert response.json()["username"] == ["A user with that username already exists."]


@pytest.mark.parametrize(
    "fields, key",
    [
        ({"password2": "Different-Passw0rd"}, "password2"),
        ({"password2": None, "confirm_password": "Different-Passw0rd"}, "confirm_password"),
        ({"password": None, "password1": GOOD, "password2": "Different-Passw0rd"}, "password2"),
    ],
)
def test_mismatched_passwords(anon_client, fields, key):
    response = register(anon_client, **fields)
    assert response.status_code == 400
    assert response.json()[key] == ["The two password fields didn't match."]
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "password, message",
    [
        ("short1!", "This password is too short. It must contain at least 8 characters."),
        ("password123", "This password is too common."),
        ("84736291047", "This password is entirely numeric."),
        ("newbie2024", "The password is too similar to the username."),
    ],
)
def test_weak_passwords_are_rejected_by_djangos_validators(anon_client, password, message):
    response = register(anon_client, password=password, password2=password)
    assert response.status_code == 400
    assert message in response.json()["password"]
    assert not User.objects.exists()


def test_malformed_json_is_a_400_envelope(anon_client):
    response = anon_client.generic("POST", REGISTER, '{"username": "x", ', content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert_envelope(body, code="MALFORMED_REQUEST")
    assert body["detail"].startswith("JSON parse error")


def test_a_json_list_body_is_a_400_not_a_500(anon_client):
    response = anon_client.generic("POST", LOGIN, "[1, 2]", content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "data, missing",
    [
        ({}, {"username", "email"}),
        ({"username": "a", "email": "a@example.com"}, {"password"}),
        ({"username": "a", "email": "a@example.com", "password": GOOD}, {"password2"}),
    ],
)
def test_missing_register_fields(anon_client, data, missing):
    response = anon_client.post(REGISTER, data, format="json")
    assert response.status_code == 400
    body = response.json()
    assert missing <= set(body["details"])
    for key in missing:
        assert body[key] == ["This field is required."]


def test_missing_login_fields(anon_client):
    response = anon_client.post(LOGIN, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"password"}
    response = anon_client.post(LOGIN, {"password": "x"}, format="json")
    assert response.json()["username"] == ["This field is required."]


def test_invalid_email_and_username(anon_client):
    response = register(anon_client, email="not-an-email", username="bad name!")
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"email", "username"}


def test_wrong_field_types_are_400(anon_client):
    response = anon_client.post(REGISTER, {"username": ["a"], "email": {"x": 1}, "password": 5}, format="json")
    assert response.status_code == 400


def test_form_encoded_login_works_too(anon_client, user):
    response = anon_client.post(LOGIN, {"username": user.username, "password": PASSWORD})  # multipart
    assert response.status_code == 200


def test_a_sign_up_racing_past_validation_still_gets_a_400():
    """Two sign-ups can both pass the taken-check; the case-insensitive unique constraints
    decide, and the loser gets the same 400 instead of a 500."""
    from rest_framework.exceptions import ValidationError

    from tutorhub.accounts import services

    UserFactory(username="Taken", email="taken@example.com")
    with mock.patch.object(services, "_sign_up_taken", return_value=False):  # the check saw nothing yet
        with pytest.raises(ValidationError) as email_clash:
            services.user_register(username="fresh", email="TAKEN@example.com", password=GOOD)
        with pytest.raises(ValidationError) as username_clash:
            services.user_register(username="taken", email="fresh@example.com", password=GOOD, by_admin=True)
    assert email_clash.value.detail == {"non_field_errors": [REGISTRATION_REFUSED]}
    assert "username" in username_clash.value.detail
    assert User.objects.count() == 1


def test_a_refresh_token_is_blacklisted_exactly_once():
    """The unique blacklist row is what makes two concurrent refreshes of one token fail for
    one of them (simplejwt's own check-then-blacklist lets both through)."""
    from rest_framework_simplejwt.exceptions import InvalidToken
    from rest_framework_simplejwt.tokens import RefreshToken

    from tutorhub.accounts.services import _blacklist_once

    token = RefreshToken.for_user(UserFactory())
    _blacklist_once(token)
    with pytest.raises(InvalidToken):
        _blacklist_once(RefreshToken(str(token), verify=False))
