"""POST /api/v1/accounts/feedback/ with optional screenshot, and reading it as an admin."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.conftest import client_for
from tutorhub.learning.models import Feedback

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts/feedback/"


def png(size=(40, 30)) -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format="PNG")
    return SimpleUploadedFile("shot.png", buf.getvalue(), content_type="image/png")


def test_json_feedback(api_client, user):
    body = {"feedback_type": "feature_request", "subject": "Add more quiz types", "message": "True/false please"}
    res = api_client.post(URL, body, format="json")
    assert res.status_code == 201, res.json()
    assert res.json()["status"] == "new" and res.json()["screenshot"] is None
    assert Feedback.objects.get().user == user


def test_feedback_with_screenshot(api_client):
    body = {"feedback_type": "bug_report", "subject": "Broken button", "message": "See screenshot", "screenshot": png()}
    res = api_client.post(URL, body, format="multipart")
    assert res.status_code == 201, res.json()
    fb = Feedback.objects.get()
    assert fb.screenshot.name.endswith(".png")
    with Image.open(fb.screenshot.path) as im:
        assert im.size == (40, 30)


def test_screenshot_must_be_a_real_small_image(api_client, settings):
    fake = SimpleUploadedFile("shot.png", b"%PDF-1.4 not an image", content_type="image/png")
    body = {"feedback_type": "bug_report", "subject": "x", "message": "y"}
    res = api_client.post(URL, {**body, "screenshot": fake}, format="multipart")
    assert res.status_code == 400 and "screenshot" in res.json()["details"]
    settings.FEEDBACK_SCREENSHOT_MAX_BYTES = 100
    res = api_client.post(URL, {**body, "screenshot": png((300, 300))}, format="multipart")
    assert res.status_code == 413 and res.json()["error_code"] == "FILE_TOO_LARGE" and "larger" in res.json()["detail"]
    assert api_client.post(URL, {**body, "feedback_type": "rant"}, format="json").status_code == 400
    assert api_client.post(URL, {"feedback_type": "general"}, format="json").status_code == 400
    assert not Feedback.objects.exists()


def test_users_see_their_own_admins_see_and_triage_all(api_client, admin_client, other_user, anon_client):
    api_client.post(URL, {"feedback_type": "general", "subject": "mine", "message": "m"}, format="json")
    other = client_for(other_user)
    fid = other.post(URL, {"feedback_type": "general", "subject": "theirs", "message": "m"}, format="json").json()["id"]
    assert [f["subject"] for f in api_client.get(URL).json()["results"]] == ["mine"]
    assert api_client.get(f"{URL}{fid}/").status_code == 404
    assert admin_client.get(URL).json()["count"] == 2
    assert other.patch(f"{URL}{fid}/", {"status": "resolved"}, format="json").status_code == 403
    res = admin_client.patch(f"{URL}{fid}/", {"status": "resolved", "admin_notes": "fixed"}, format="json")
    assert res.status_code == 200 and Feedback.objects.get(pk=fid).status == "resolved"
    assert anon_client.post(URL, {}, format="json").status_code == 401


def test_django_admin_lists_feedback(client):
    from tests.factories import UserFactory

    admin_user = UserFactory(is_superuser=True, is_staff=True)
    Feedback.objects.create(user=admin_user, feedback_type="general", subject="Visible in admin", message="m")
    client.force_login(admin_user)
    res = client.get("/admin/learning/feedback/")
    assert res.status_code == 200 and b"Visible in admin" in res.content


def test_feedback_type_defaults_to_general(api_client):
    res = api_client.post(URL, {"subject": "Hi", "message": "Nice app"}, format="json")
    assert res.status_code == 201 and res.json()["feedback_type"] == "general"
