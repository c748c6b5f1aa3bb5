"""Refresh rotation, blacklisting, logout and bad tokens on every refresh path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.conftest import client_for
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

REFRESH_PATHS = [
    "/api/v1/accounts/token-refresh/",
    "/api/v1/accounts/token/refresh/",
    "/api/token/refresh/",
    "/api/v1/auth/refresh/",
    "/api/v1/auth/token/refresh/",
]


def login(client, user) -> dict:
    return client.post("/api/v1/accounts/login/", {"username": user.username, "password": PASSWORD}, format="json").json()


@pytest.mark.parametrize("path", REFRESH_PATHS)
def test_refresh_rotates_and_blacklists_the_used_token(anon_client, user, path):
    tokens = login(anon_client, user)
    first = anon_client.post(path, {"refresh": tokens["refresh"]}, format="json")
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"access", "refresh"} and body["refresh"] != tokens["refresh"]
    assert AccessToken(body["access"])["user_id"] == str(user.pk)

    reused = anon_client.post(path, {"refresh": tokens["refresh"]}, format="json")
    assert reused.status_code == 401
    assert reused.json()["error_code"] == "AUTHENTICATION_FAILED"
    assert reused.json()["detail"] == "Token is blacklisted"
    # The rotated one still works, once.
    assert anon_client.post(path, {"refresh": body["refresh"]}, format="json").status_code == 200


def test_expired_refresh_token_is_401(anon_client, user):
    token = RefreshToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=-1))
    response = anon_client.post("/api/token/refresh/", {"refresh": str(token)}, format="json")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.x", "x" * 2000])
def test_garbage_refresh_token_is_401(anon_client, garbage):
    response = anon_client.post("/api/v1/auth/refresh/", {"refresh": garbage}, format="json")
    assert response.status_code == 401
    body = response.json()
    assert body["error_code"] == "AUTHENTICATION_FAILED"
    assert body["details"]["code"] == "token_not_valid"


def test_an_access_token_is_not_a_refresh_token(anon_client, user):
    access = str(RefreshToken.for_user(user).access_token)
    assert anon_client.post("/api/token/refresh/", {"refresh": access}, format="json").status_code == 401


def test_refresh_missing_field_is_400(anon_client):
    response = anon_client.post("/api/token/refresh/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["refresh"] == ["This field is required."]


@pytest.mark.parametrize("change", ["deactivate", "delete"])
def test_refresh_for_a_deactivated_or_deleted_account_is_401(anon_client, user, change):
    refresh = str(RefreshToken.for_user(user))
    if change == "delete":
        user.delete()
    else:
        user.is_active = False
        user.save()
    response = anon_client.post("/api/token/refresh/", {"refresh": refresh}, format="json")
    assert response.status_code == 401


def test_expired_and_garbage_access_tokens_are_401(user):
    access = AccessToken.for_user(user)
    access.set_exp(lifetime=timedelta(seconds=-1))
    for header in (f"Bearer {access}", "Bearer garbage", "Token not-a-token"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        response = client.get("/api/v1/accounts/profile/")
        assert response.status_code == 401, header
        assert response.json()["error_code"] == "AUTHENTICATION_FAILED"


def test_no_credentials_is_401_with_drf_wording(anon_client):
    response = anon_client.get("/api/v1/auth/users/me/")
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication credentials were not provided."


@pytest.mark.parametrize(
    "path, message",
    [
        ("/api/v1/accounts/logout/", "Successfully logged out."),
        ("/api/logout/", "Successfully logged out."),
        ("/api/v1/auth/logout/", "Logout successful"),
    ],
)
def test_logout_blacklists_the_refresh_token(anon_client, user, path, message):
    tokens = login(anon_client, user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    response = client.post(path, {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"message": message}
    again = anon_client.post("/api/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert again.status_code == 401
    # The seed-003 token handed out at login is revoked as well.
    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {tokens['token']}")
    assert token_client.get("/api/v1/accounts/profile/").status_code == 401


def test_logout_twice_with_the_same_refresh_is_401(anon_client, user):
    tokens = login(anon_client, user)
    client = client_for(user)
    assert client.post("/api/logout/", {"refresh": tokens["refresh"]}, format="json").status_code == 200
    assert client.post("/api/logout/", {"refresh": tokens["refresh"]}, format="json").status_code == 401


def test_logout_cannot_revoke_someone_elses_token(user, other_user):
    theirs = str(RefreshToken.for_user(other_user))
    response = client_for(user).post("/api/v1/accounts/logout/", {"refresh": theirs}, format="json")
    assert response.status_code == 401
    assert APIClient().post("/api/token/refresh/", {"refresh": theirs}, format="json").status_code == 200


def test_logout_needs_authentication(anon_client, user):
    refresh = str(RefreshToken.for_user(user))
    assert anon_client.post("/api/v1/accounts/logout/", {"refresh": refresh}, format="json").status_code == 401
