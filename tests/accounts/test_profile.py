"""Profile GET/PATCH on every dialect's path."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

PROFILE_PATHS = ["/api/v1/accounts/profile/", "/api/accounts/profile/", "/api/v1/auth/profile/", "/api/v1/auth/users/me/"]


@pytest.mark.parametrize("path", PROFILE_PATHS)
def test_profile_shows_the_caller(api_client, user, path):
    response = api_client.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == user.pk and body["username"] == user.username and body["email"] == user.email
    # seed 004 users/me: coins, role, language, phone number
    for key in ("coins", "role", "language", "phone_number", "first_name", "last_name", "study_goals", "timezone"):
        assert key in body


def test_patch_profile_with_seed_001_fields(api_client, user):
    patch = {
        "first_name": "John",
        "last_name": "Doe",
        "bio": "Computer Science student interested in AI",
        "timezone": "America/New_York",
        "language_preference": "en",
        "learning_style": "visual",
        "study_goals": ["master_calculus", "prepare_for_exams"],
    }
    response = api_client.patch("/api/v1/accounts/profile/", patch, format="json")
    assert response.status_code == 200
    assert {k: response.json()[k] for k in patch} == patch
    user.refresh_from_db()
    assert user.study_goals == ["master_calculus", "prepare_for_exams"] and user.timezone == "America/New_York"


def test_profile_cannot_change_role_coins_or_username(api_client, user):
    response = api_client.patch(
        "/api/v1/auth/users/me/", {"role": "admin", "coins": 999, "username": "root", "bio": "hi"}, format="json"
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.role, user.coins, user.bio) == ("student", 0, "hi")
    assert user.username != "root"


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"learning_style": "telepathic"}, "learning_style"),
        ({"study_goals": "not-a-list"}, "study_goals"),
        ({"first_name": "x" * 200}, "first_name"),
    ],
)
def test_invalid_profile_values_are_400(api_client, user, patch, field):
    response = api_client.patch("/api/v1/accounts/profile/", patch, format="json")
    assert response.status_code == 400
    assert field in response.json()["details"]


def test_put_needs_no_read_only_fields(api_client):
    response = api_client.put("/api/v1/accounts/profile/", {"first_name": "Jo"}, format="json")
    assert response.status_code == 200
    assert response.json()["first_name"] == "Jo"
