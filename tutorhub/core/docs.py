"""ReDoc's bundle, served so that the API docs page makes no request outside this server.

drf-spectacular-sidecar ships ReDoc's standalone bundle unchanged, and that bundle always renders
a "powered by" logo from https://cdn.redoc.ly (no option turns it off). The page must work
offline and request nothing from third parties, so the bundle is served from here
with that one address pointing at a local copy of the logo. The bundle is read once per process
and kept in memory; the sidecar package stays the single copy of ReDoc in the repository."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.templatetags.static import static

SIDECAR_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
LOCAL_LOGO = "core/redoc-logo.svg"


@functools.cache
def redoc_bundle_bytes() -> tuple[bytes, str]:
    """(the bundle with its CDN logo replaced by our static copy, its ETag)."""
    text = Path(finders.find(SIDECAR_BUNDLE)).read_text(encoding="utf-8")
    body = text.replace(CDN_LOGO, static(LOCAL_LOGO)).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def redoc_bundle(request: HttpRequest) -> HttpResponse:
    body, etag = redoc_bundle_bytes()
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=86400"
    return response
