from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_every_response_has_a_request_id_matching_the_error_body(anon_client):
    response = anon_client.get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404
    body = response.json()
    assert body["error_code"] == "RESOURCE_NOT_FOUND"
    assert response["X-Request-ID"] == body["request_id"]


@pytest.mark.django_db
def test_incoming_request_id_is_kept(anon_client):
    response = anon_client.get("/healthz", HTTP_X_REQUEST_ID="trace-123")
    assert response["X-Request-ID"] == "trace-123"


@pytest.mark.django_db
def test_docs_are_served_offline(client):
    assert client.get("/api/schema/").status_code == 200
    swagger = client.get("/api/v1/docs/")
    assert swagger.status_code == 200
    assert b"/static/drf_spectacular_sidecar/" in swagger.content
    assert client.get("/api/v1/docs/redoc/").status_code == 200
