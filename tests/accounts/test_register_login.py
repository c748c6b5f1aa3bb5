"""Sign-up and login in every dialect (seeds 000, 001, 002, 003, 004)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory
from tutorhub.accounts.models import User

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Corr3ct-Horse-Battery"


def signup(**extra) -> dict:
    return {"username": "john_doe", "email": "John@Example.com", "first_name": "John", "last_name": "Doe", **extra}


@pytest.mark.parametrize(
    "passwords",
    [
        {"password": NEW_PASSWORD, "password2": NEW_PASSWORD},  # seed 000
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},  # seed 003
        {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},  # seed 004
    ],
    ids=["password2", "password1", "confirm_password"],
)
def test_register_accepts_every_confirmation_spelling(anon_client, passwords):
    response = anon_client.post("/api/v1/accounts/register/", signup(**passwords), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["message"] == "User registered successfully"
    assert body["user"] == {
        "id": body["user"]["id"],
        "username": "john_doe",
        "email": "john@example.com",
        "first_name": "John",
        "last_name": "Doe",
        "role": "student",
    }
    user = User.objects.get(pk=body["user"]["id"])
    assert user.check_password(NEW_PASSWORD) and user.role == "student"
    # The issued access token works right away.
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.get("/api/v1/accounts/profile/").json()["username"] == "john_doe"


def test_seed_004_register_path_returns_tokens_and_message(anon_client):
    body = anon_client.post(
        "/api/v1/auth/register/",
        {"username": "newuser", "email": "user@example.com", "password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        format="json",
    ).json()
    assert set(body) == {"user", "refresh", "access", "message"}
    assert body["message"] == "User registered successfully"
    assert body["user"]["username"] == "newuser"


def test_seed_000_register_returns_the_bare_user(anon_client):
    response = anon_client.post(
        "/api/accounts/register/", signup(password=NEW_PASSWORD, password2=NEW_PASSWORD), format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert {"id", "username", "email", "first_name", "last_name"} <= set(body)
    assert "access" not in body and body["username"] == "john_doe"


@pytest.mark.parametrize("path", ["/api/v1/accounts/login/", "/api/accounts/login/", "/api/v1/auth/login/"])
def test_login_returns_the_superset_of_every_dialect(anon_client, user, path):
    response = anon_client.post(path, {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "token", "user", "message"}
    assert body["message"] == "Login successful"
    assert body["user"]["id"] == user.pk and body["user"]["email"] == user.email
    user.refresh_from_db()
    assert user.last_login is not None


@pytest.mark.parametrize("field", ["username", "email"])
def test_login_with_email_in_any_case(anon_client, field):
    UserFactory(username="ada", email="ada@example.com")
    response = anon_client.post("/api/v1/accounts/login/", {field: "ADA@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "ada"


def test_login_username_is_case_insensitive(anon_client):
    UserFactory(username="grace")
    response = anon_client.post("/api/v1/accounts/login/", {"username": "Grace", "password": PASSWORD}, format="json")
    assert response.status_code == 200


def test_login_ignores_a_stale_authorization_header(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer expired.or.garbage")
    response = client.post("/api/v1/accounts/login/", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200


def test_seed_003_token_flow(anon_client):
    """Register (password1/password2) → login → `Authorization: Token` → logout revokes it."""
    anon_client.post(
        "/api/v1/accounts/register/",
        {"username": "zohan", "email": "zohan@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        format="json",
    )
    token = anon_client.post(
        "/api/v1/accounts/login/", {"username": "zohan", "password": NEW_PASSWORD}, format="json"
    ).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/accounts/profile/").json()["username"] == "zohan"
    # Logging in again (another device) hands out the same token, as DRF's authtoken does.
    again = anon_client.post("/api/v1/accounts/login/", {"username": "zohan", "password": NEW_PASSWORD}, format="json")
    assert again.json()["token"] == token

    response = client.post("/api/v1/accounts/logout/", {}, format="json")
    assert response.status_code == 200
    assert response.json() == {"message": "Successfully logged out."}
    after = client.get("/api/v1/accounts/profile/")
    assert after.status_code == 401
    assert after.json()["detail"] == "Invalid token."


def test_register_then_login_then_profile_round_trip_in_seed_000(anon_client):
    anon_client.post("/api/accounts/register/", signup(password=NEW_PASSWORD, password2=NEW_PASSWORD), format="json")
    tokens = anon_client.post(
        "/api/accounts/login/", {"username": "john_doe", "password": NEW_PASSWORD}, format="json"
    ).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    profile = client.get("/api/accounts/profile/").json()
    assert profile["first_name"] == "John" and profile["email"] == "john@example.com"
    refreshed = anon_client.post("/api/token/refresh/", {"refresh": tokens["refresh"]}, format="json").json()
    assert set(refreshed) == {"access", "refresh"}
    out = client.post("/api/logout/", {"refresh": refreshed["refresh"]}, format="json")
    assert out.json() == {"message": "Successfully logged out."}
