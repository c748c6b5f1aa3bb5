"""ReDoc's bundle is served without its CDN logo address (issue 14: the docs page requests
nothing outside this server)."""

from __future__ import annotations

from tutorhub.core.docs import CDN_LOGO, redoc_bundle_bytes


def test_the_redoc_page_loads_the_local_bundle(client):
    page = client.get("/api/v1/docs/redoc/").content.decode()
    assert 'src="/api/v1/docs/redoc/redoc.standalone.js"' in page
    assert "https://" not in page.split("<body>", 1)[1]


def test_the_bundle_points_its_logo_at_a_local_file_and_is_cacheable(client):
    response = client.get("/api/v1/docs/redoc/redoc.standalone.js")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/javascript")
    assert CDN_LOGO.encode() not in response.content
    assert b"/static/core/redoc-logo.svg" in response.content
    assert b"cdn.redoc.ly" not in response.content
    again = client.get("/api/v1/docs/redoc/redoc.standalone.js", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_only_the_logo_address_differs_from_the_sidecar_copy():
    from pathlib import Path

    from django.contrib.staticfiles import finders

    original = Path(finders.find("drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js")).read_bytes()
    served, _etag = redoc_bundle_bytes()
    assert original.count(CDN_LOGO.encode()) == 1
    assert served == original.replace(CDN_LOGO.encode(), b"/static/core/redoc-logo.svg")
