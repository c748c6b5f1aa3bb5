"""upload_url/ against a loopback web server (SSRF refusals without INGEST_URL_ALLOW_PRIVATE),
and signed webhooks delivered to a loopback receiver with retries and a delivery log."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.knowledge.conftest import make_pdf, upload
from tutorhub.core import fetch
from tutorhub.engagement.models import WebhookDelivery
from tutorhub.knowledge.models import Document

pytestmark = pytest.mark.django_db

PAGE = (
    b"<!doctype html><html><head><title>Optics</title></head><body><header>site header</header>"
    b"<main><h1>Optics</h1><p>Light refracts when it enters glass.</p>"
    b"<h2>Lenses</h2><p>A convex lens converges parallel rays to a focal point.</p></main></body></html>"
)


def test_upload_url_ingests_a_web_page(api_client, course, loopback, settings):
    settings.INGEST_URL_ALLOW_PRIVATE = True
    loopback.routes["/optics"] = (200, {"Content-Type": "text/html; charset=utf-8"}, PAGE)
    response = api_client.post(
        f"/api/v1/courses/{course.id}/documents/upload_url/",
        {"url": loopback.url("/optics"), "name": "Optics page", "description": "web"}, format="json",
    )
    assert response.status_code == 201, response.json()
    doc = Document.objects.get(pk=response.json()["document"]["id"])
    assert doc.processing_status == "completed", doc.processing_error
    assert doc.document_type == "html" and doc.source_url == loopback.url("/optics")
    assert list(doc.chunks.values_list("section", flat=True)) == ["Optics", "Lenses"]
    assert "site header" not in doc.extracted_text


def test_upload_url_follows_redirects_to_a_pdf(api_client, course, loopback, settings):
    settings.INGEST_URL_ALLOW_PRIVATE = True
    loopback.routes["/paper"] = (302, {"Location": "/paper.pdf"}, b"")
    loopback.routes["/paper.pdf"] = (200, {"Content-Type": "application/pdf"}, make_pdf(["Quantum tunnelling page one.", "Page two."]))
    doc_id = api_client.post(
        f"/api/v1/courses/{course.id}/documents/upload_url/", {"url": loopback.url("/paper")}, format="json"
    ).json()["document"]["id"]
    doc = Document.objects.get(pk=doc_id)
    assert doc.document_type == "pdf" and doc.page_count == 2
    assert doc.processing_metadata["final_url"] == loopback.url("/paper.pdf")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://localhost:8000/x", "http://[::1]/", "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/", "http://192.168.1.1/", "http://0.0.0.0/", "ftp://example.com/file", "http://[::ffff:127.0.0.1]/",
])
def test_upload_url_refuses_private_addresses(api_client, course, url):
    response = api_client.post(f"/api/v1/courses/{course.id}/documents/upload_url/", {"url": url}, format="json")
    assert response.status_code == 400
    assert not Document.objects.exists()


def test_dns_answers_are_checked(monkeypatch):
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "rebind.test":  # one public and one private answer: refused
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(fetch.socket, "getaddrinfo", fake)
    with pytest.raises(fetch.FetchError, match="private"):
        fetch.resolve_checked("http://rebind.test/", allow_private=False)


def test_redirect_to_a_refused_address_fails_the_document(api_client, course, loopback, settings, monkeypatch):
    """First hop allowed (a loopback test server standing in for a public host), the redirect
    to the metadata address is refused by the per-hop check."""
    settings.INGEST_URL_ALLOW_PRIVATE = True
    loopback.routes["/go"] = (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")
    real = fetch.resolve_checked

    def checked(url, *, allow_private):
        return real(url, allow_private=allow_private and "169.254" not in url)

    monkeypatch.setattr(fetch, "resolve_checked", checked)
    doc_id = api_client.post(
        f"/api/v1/courses/{course.id}/documents/upload_url/", {"url": loopback.url("/go")}, format="json"
    ).json()["document"]["id"]
    doc = Document.objects.get(pk=doc_id)
    assert doc.processing_status == "failed"
    assert "private, loopback or link-local" in doc.processing_error


def test_download_size_cap(api_client, course, loopback, settings):
    settings.INGEST_URL_ALLOW_PRIVATE = True
    settings.INGEST_URL_MAX_BYTES = 1000
    loopback.routes["/big"] = (200, {"Content-Type": "text/plain"}, b"a" * 5000)
    doc_id = api_client.post(
        f"/api/v1/courses/{course.id}/documents/upload_url/", {"url": loopback.url("/big")}, format="json"
    ).json()["document"]["id"]
    doc = Document.objects.get(pk=doc_id)
    assert doc.processing_status == "failed" and "limit" in doc.processing_error


def _register(client, url, events=None, secret="s3cret"):
    return client.post(
        "/api/v1/webhooks/register/",
        {"url": url, "events": events or ["document.processing.completed", "document.processing.failed"], "secret": secret},
        format="json",
    )


def test_webhooks_are_signed_and_logged(api_client, course, loopback, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    registered = _register(api_client, loopback.url("/hook"))
    assert registered.status_code == 201
    assert registered.json()["secret"] == "s3cret"
    upload(api_client, course, "a.txt", b"Gravity pulls masses together.")
    upload(api_client, course, "b.pdf", b"%PDF-1.4 broken")
    posts = [r for r in loopback.received if r["method"] == "POST"]
    assert len(posts) == 2
    events = []
    for post in posts:
        headers = {k.lower(): v for k, v in post["headers"].items()}
        expected = "sha256=" + hmac.new(b"s3cret", headers["x-tutorhub-timestamp"].encode() + b"." + post["body"], hashlib.sha256).hexdigest()
        assert headers["x-tutorhub-signature"] == expected
        body = json.loads(post["body"])
        assert body["event"] == headers["x-tutorhub-event"]
        events.append((body["event"], body["data"]["processing_status"]))
    assert events == [("document.processing.completed", "completed"), ("document.processing.failed", "failed")]
    hook_id = registered.json()["id"]
    log = api_client.get(f"/api/v1/webhooks/{hook_id}/deliveries/").json()
    assert log["count"] == 2 and {d["status"] for d in log["results"]} == {"succeeded"}
    assert api_client.get("/api/v1/webhooks/").json()["count"] == 1
    assert "secret" not in api_client.get(f"/api/v1/webhooks/{hook_id}/").json()


def test_failed_deliveries_are_retried_with_backoff(api_client, course, loopback, settings):
    from tutorhub.engagement.webhooks import webhook_deliveries_retry_due

    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    _register(api_client, loopback.url("/hook"), events=["document.processing.completed"])
    loopback.responses = [500, 503, 500]
    upload(api_client, course, "a.txt", b"Gravity pulls masses together.")
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_status_code == 500
    first_wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=20) < first_wait <= timedelta(seconds=30)
    assert webhook_deliveries_retry_due() == 0  # not due yet
    webhook_deliveries_retry_due(now=timezone.now() + timedelta(minutes=1))
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.status == "pending"
    assert delivery.next_attempt_at - timezone.now() > timedelta(seconds=50)  # doubled
    webhook_deliveries_retry_due(now=timezone.now() + timedelta(minutes=5))
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 3 and delivery.last_error == "HTTP 500"


def test_webhook_registration_validation(api_client, other_user):

    assert _register(api_client, "http://127.0.0.1:9/hook").status_code == 400  # private, not allowed by default
    assert _register(api_client, "https://example.com/h", events=["document.deleted"]).status_code == 400
    assert api_client.post("/api/v1/webhooks/register/", {"url": "nope"}, format="json").status_code == 400


def test_webhooks_are_private_to_their_owner(api_client, other_user, settings, loopback):
    from tests.conftest import client_for

    settings.WEBHOOK_ALLOW_PRIVATE = True
    hook_id = _register(api_client, loopback.url("/hook")).json()["id"]
    other = client_for(other_user)
    assert other.get(f"/api/v1/webhooks/{hook_id}/").status_code == 404
    assert other.delete(f"/api/v1/webhooks/{hook_id}/").status_code == 404
    assert other.get(f"/api/v1/webhooks/{hook_id}/deliveries/").status_code == 404
    assert api_client.delete(f"/api/v1/webhooks/{hook_id}/").status_code == 204
