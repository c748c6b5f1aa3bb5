"""The API's JWT authentication (tutorhub.accounts.authentication) reads the user row with a
statement compiled once per thread: the same user as the ORM's, still read on every request, so
deactivation, deletion and bad claims are refused at once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.conftest import client_for
from tutorhub.accounts.authentication import JWTAuthentication, _user_by_id
from tutorhub.accounts.models import User

pytestmark = pytest.mark.django_db


def test_the_user_read_is_the_orms_user_field_for_field(user):
    user.bio, user.study_goals = "Physics, mostly.", ["pass the exam"]
    user.save()
    read = _user_by_id.get(user.pk)
    expected = User.objects.get(pk=user.pk)
    for field in User._meta.concrete_fields:
        assert getattr(read, field.attname) == getattr(expected, field.attname), field.name
    assert read.date_joined.tzinfo is not None  # converted like the ORM's (SQLite stores text)
    assert read._state.adding is False and read._state.db == "default"
    assert _user_by_id.get(user.pk + 10_000) is None


def test_the_statement_is_compiled_once_per_thread_and_run_each_time(user):
    _user_by_id.get(user.pk)
    compiled = _user_by_id.compiled["default"]
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert _user_by_id.get(user.pk).pk == user.pk
    assert len(queries) == 3  # read every time: nothing is cached but the SQL text
    assert _user_by_id.compiled["default"] is compiled
    seen = []
    thread = threading.Thread(target=lambda: seen.append("default" in _user_by_id.compiled))
    thread.start()
    thread.join(10)
    assert seen == [False]  # another thread compiles its own (its connection is its own)


def test_a_profile_request_is_one_query(user):
    client = client_for(user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/accounts/profile/")
    assert response.status_code == 200 and response.json()["username"] == user.username
    assert len(queries) == 1


@pytest.mark.parametrize("change", ["deactivate", "delete"])
def test_a_valid_token_stops_working_the_moment_its_account_is_deactivated_or_deleted(user, change):
    client = client_for(user)
    assert client.get("/api/v1/accounts/profile/").status_code == 200
    if change == "deactivate":
        User.objects.filter(pk=user.pk).update(is_active=False)
    else:
        user.delete()
    response = client.get("/api/v1/accounts/profile/")
    assert response.status_code == 401
    assert response.json()["error_code"] == "AUTHENTICATION_FAILED"
    assert response.json()["detail"] == ("User is inactive" if change == "deactivate" else "User not found")


@pytest.mark.parametrize("claim", ["not-a-number", None])
def test_a_signed_token_with_a_bad_or_missing_user_claim_is_401_not_500(user, claim):
    token = AccessToken.for_user(user)
    if claim is None:
        del token["user_id"]
    else:
        token["user_id"] = claim
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get("/api/v1/accounts/profile/")
    assert response.status_code == 401
    assert response.json()["error_code"] == "AUTHENTICATION_FAILED"


def test_a_revoke_claim_is_checked_when_simplejwt_is_told_to(user, monkeypatch):
    from rest_framework_simplejwt.settings import api_settings

    # The object every simplejwt module (and ours) imported; SIMPLE_JWT overrides replace the
    # module's name only.
    monkeypatch.setattr(api_settings, "CHECK_REVOKE_TOKEN", True)
    token = AccessToken.for_user(user)  # carries a hash of the current password
    assert JWTAuthentication().get_user(token).pk == user.pk
    user.set_password("a different passphrase 42")
    user.save()
    with pytest.raises(AuthenticationFailed, match="password has been changed"):
        JWTAuthentication().get_user(token)
