"""The one error envelope: keys, codes, request ids, no internals leaking."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ENVELOPE = {"detail", "error", "error_code", "details", "request_id", "timestamp"}


@pytest.fixture
def boom(settings):
    settings.ROOT_URLCONF = "tests.core.boom_urls"


def test_unhandled_exception_in_an_api_view_is_a_500_envelope_without_internals(boom):
    # The handler sends Django's got_request_exception, which the test client re-raises by default.
    client = APIClient(raise_request_exception=False)
    response = client.get("/boom/crash/")
    assert response.status_code == 500
    body = response.json()
    assert ENVELOPE <= set(body)
    assert body["error_code"] == "INTERNAL_ERROR" and body["detail"] == "A server error occurred."
    assert b"hunter2" not in response.content and b"Traceback" not in response.content
    assert response["X-Request-ID"] == body["request_id"]


def test_crash_in_a_plain_django_view_uses_handler500(boom, settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    response = client.get("/plain-crash/")
    assert response.status_code == 500
    assert response.json()["error_code"] == "INTERNAL_ERROR"
    assert b"secret internals" not in response.content


@pytest.mark.parametrize(
    "kind, status, code",
    [
        ("django-validation", 400, "VALIDATION_ERROR"),
        ("service", 400, "QUIZ_EMPTY"),
        ("conflict", 409, "CONFLICT"),
        ("unavailable", 503, "SERVICE_UNAVAILABLE"),
    ],
)
def test_service_errors_map_to_their_status_and_code(boom, anon_client, kind, status, code):
    response = anon_client.get(f"/boom/{kind}/")
    assert response.status_code == status
    body = response.json()
    assert ENVELOPE <= set(body) and body["error_code"] == code
    if kind == "django-validation":
        assert body["title"] == ["Too long."] and body["details"] == {"title": ["Too long."]}


def test_validation_error_keeps_field_keys_at_top_level(anon_client):
    response = anon_client.post("/api/v1/accounts/register/", {"email": "bad"}, format="json")
    body = response.json()
    assert response.status_code == 400
    assert ENVELOPE <= set(body)
    assert body["error"] == "Validation failed" and body["error_code"] == "VALIDATION_ERROR"
    assert body["username"] == ["This field is required."]
    assert body["details"]["email"] == body["email"] == ["Enter a valid email address."]
    assert body["timestamp"].endswith("Z")


@pytest.mark.parametrize(
    "method, path, status, code, detail",
    [
        ("get", "/api/v1/accounts/profile/", 401, "AUTHENTICATION_FAILED", "Authentication credentials were not provided."),
        ("get", "/api/v1/accounts/login/", 405, "METHOD_NOT_ALLOWED", 'Method "GET" not allowed.'),
        ("get", "/api/v1/nothing-here/", 404, "RESOURCE_NOT_FOUND", "Not found."),
    ],
)
def test_drf_wording_is_kept(anon_client, method, path, status, code, detail):
    response = getattr(anon_client, method)(path)
    assert response.status_code == status
    body = response.json()
    assert ENVELOPE <= set(body)
    assert (body["error_code"], body["detail"], body["error"]) == (code, detail, detail)
    assert response["X-Request-ID"] == body["request_id"]


def test_unsupported_media_type_is_415(anon_client):
    response = anon_client.generic("POST", "/api/v1/accounts/login/", "x", content_type="text/csv")
    assert response.status_code == 415
    assert response.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_object_not_found_in_api_is_envelope(admin_client):
    response = admin_client.get("/api/v1/accounts/users/424242/")
    assert response.status_code == 404
    assert response.json()["detail"] == "No User matches the given query." or response.json()["detail"] == "Not found."
    assert response.json()["error_code"] == "RESOURCE_NOT_FOUND"


def test_unsafe_incoming_request_id_is_replaced(anon_client):
    response = anon_client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces\n")
    assert response["X-Request-ID"].startswith("req_")
