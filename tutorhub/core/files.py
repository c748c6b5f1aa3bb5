"""Private uploaded files: how they are named, stored and served.

Nothing under MEDIA_ROOT is mapped to a public URL. Every file is served by a view of the app
that owns it, after that view looked the row up through the same visibility-scoped queryset as
its API object (so another user's file is a 404 exactly like the object), and then through
`serve_private_file`, which keeps uploaded bytes from ever running as a page of this origin.

Stored names are random (`PrivateUploadTo`), so a path says nothing about its owner and cannot
be guessed; the client's filename is kept on the row for display and Content-Disposition only.

A file belongs to a row: `PrivateFileSystemStorage` deletes a file saved inside a transaction
that rolls back, and `orphan_files_delete` (a periodic task) removes what a killed process left.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import posixpath
import re
import uuid
import weakref
from datetime import timedelta
from urllib.parse import quote

from django.apps import apps
from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import models, transaction
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from tutorhub.core.exceptions import json_error_response

logger = logging.getLogger(__name__)

# Types a browser only ever plays or displays (no script, no markup): these may be served inline.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Types that keep their own Content-Type (downloaded, never rendered as a page of this origin).
# Anything else (HTML, SVG, XML, JavaScript, unknown) goes out as opaque bytes.
PASSIVE_TYPES = frozenset(
    {
        "application/pdf", "text/plain", "text/csv", "text/markdown", "application/zip", "application/msword",
        "application/vnd.ms-excel", "application/vnd.ms-powerpoint", "application/vnd.oasis.opendocument.text",
    }
)
OPAQUE_TYPE = "application/octet-stream"
# Even when a browser is talked into rendering a file, it gets no script, no plugins, no origin.
FILE_CSP = "sandbox; default-src 'none'; media-src 'self'; img-src 'self'"
CHUNK_SIZE = 64 * 1024
_EXTENSION = re.compile(r"^\.[a-z0-9]{1,8}$")


# --- names ------------------------------------------------------------------------------------
@deconstructible
class PrivateUploadTo:
    """`upload_to` that stores under `<prefix>/<uuid4 hex><.ext>`: no user id, no timestamp, no
    client-chosen name. The extension is kept (when it is short and alphanumeric) only so the
    file type stays recognisable on disk."""

    def __init__(self, prefix: str):
        self.prefix = prefix.strip("/")

    def __call__(self, instance, filename: str) -> str:
        return private_name(self.prefix, filename)

    def __eq__(self, other) -> bool:  # migrations compare fields: same prefix, no change
        return isinstance(other, PrivateUploadTo) and other.prefix == self.prefix

    def __hash__(self) -> int:
        return hash(self.prefix)


def private_name(prefix: str, filename: str = "", *, extension: str | None = None) -> str:
    ext = (extension if extension is not None else os.path.splitext(filename or "")[1]).lower()
    if ext and not ext.startswith("."):
        ext = f".{ext}"
    return f"{prefix}/{uuid.uuid4().hex}{ext if _EXTENSION.match(ext) else ''}"


# --- storage: a file saved in a transaction that rolls back is deleted -------------------------
class _CommitMarker:
    """Registered with `transaction.on_commit` for each stored file. Django drops pending
    callbacks on rollback (whole transaction or the savepoint the file was saved in) without
    calling them; the finalizer attached to this object then sees it never ran and deletes the
    file. Holds no reference back to anything that refers to it, so CPython frees it (and runs
    the finalizer) the moment Django drops it."""

    __slots__ = ("state", "__weakref__")

    def __init__(self, state: dict):
        self.state = state

    def __call__(self) -> None:
        self.state["committed"] = True


def _delete_unless_committed(storage, name: str, state: dict) -> None:
    if state["committed"]:
        return
    try:
        storage.delete(name)
    except Exception:  # a finalizer must not raise; the periodic sweep retries
        logger.warning("Could not delete %s after its transaction rolled back", name, exc_info=True)
    else:
        logger.info("Deleted %s: the transaction that stored it rolled back", name)


def delete_on_rollback(storage, name: str, *, using: str | None = None) -> None:
    """Delete `name` from `storage` if the current transaction (or savepoint) rolls back.
    Outside a transaction there is nothing to undo (a row written later in autocommit mode that
    fails leaves the file to `orphan_files_delete`)."""
    if not transaction.get_connection(using).in_atomic_block:
        return
    state = {"committed": False}
    marker = _CommitMarker(state)
    weakref.finalize(marker, _delete_unless_committed, storage, name, state)
    transaction.on_commit(marker, using=using)


class PrivateFileSystemStorage(FileSystemStorage):
    """MEDIA_ROOT storage whose saves are undone with the transaction they belong to."""

    def _save(self, name, content):
        stored = super()._save(name, content)
        delete_on_rollback(self, stored)
        return stored


# --- orphans ----------------------------------------------------------------------------------
def _referenced_names() -> set[str]:
    names: set[str] = set()
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.FileField):
                values = model._base_manager.exclude(**{field.attname: ""}).exclude(**{f"{field.attname}__isnull": True})
                names.update(values.values_list(field.attname, flat=True).iterator())
    return names


def orphan_files_delete(*, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete files under the default storage's root that no FileField of any row names and that
    are older than `older_than` (younger ones may belong to a transaction still open). Returns
    how many were deleted. Only for a filesystem storage; other storages are left alone."""
    if not isinstance(default_storage, FileSystemStorage):
        logger.info("Orphan sweep skipped: the default storage is not a filesystem")
        return 0
    root = default_storage.location
    if not os.path.isdir(root):
        return 0
    cutoff = (timezone.now() - older_than).timestamp()
    referenced = _referenced_names()
    deleted = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for filename in filenames:
            path = os.path.join(dirpath, filename)
            name = os.path.relpath(path, root).replace(os.sep, "/")
            try:
                if name in referenced or os.stat(path).st_mtime > cutoff:
                    continue
                os.remove(path)
            except FileNotFoundError:
                continue
            deleted += 1
            logger.info("Deleted orphan file %s (no row refers to it)", name)
    return deleted


# --- serving ----------------------------------------------------------------------------------
def _safe_content_type(content_type: str | None, filename: str) -> str:
    declared = (content_type or mimetypes.guess_type(filename)[0] or "").split(";")[0].strip().lower()
    if declared.startswith("audio/") or declared in INLINE_TYPES or declared in PASSIVE_TYPES:
        return declared
    if declared.startswith("application/vnd.openxmlformats-officedocument."):
        return declared
    return OPAQUE_TYPE


def _parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """One `bytes=` range → (start, end) inclusive; None when the header is to be ignored (not
    bytes, several ranges, malformed: RFC 9110 lets a server answer those with the whole file);
    False when it is well formed but cannot be satisfied (416)."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, sep, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if not sep or not (first or last) or not all(part.isdigit() for part in (first, last) if part):
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        return False
    return start, min(end, size - 1)


def _read_range(fh, start: int, length: int):
    try:
        fh.seek(start)
        while length > 0:
            chunk = fh.read(min(CHUNK_SIZE, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        fh.close()


def wants_inline(request) -> bool:
    return request.GET.get("inline", "").lower() in {"1", "true", "yes"}


def file_download_schema(**kwargs):
    """OpenAPI for a view that ends in `serve_private_file`."""
    body = OpenApiResponse(OpenApiTypes.BINARY, description="The file (206: the requested byte range).")
    return extend_schema(
        responses={
            (200, OPAQUE_TYPE): body,
            (206, OPAQUE_TYPE): body,
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="No such file, or not yours to see (error envelope)."),
            416: OpenApiResponse(OpenApiTypes.OBJECT, description="Range outside the file (error envelope; Content-Range: bytes */size)."),
        },
        parameters=[
            OpenApiParameter(
                "inline", bool, description="Show audio or an image in the browser instead of downloading it"
            )
        ],
        **kwargs,
    )


def serve_private_file(request, fieldfile, *, filename: str = "", content_type: str | None = None, inline: bool = False):
    """Response for a stored file the caller was already allowed to see.

    - Content-Type is the declared one only for passive types (audio, raster images, PDF, text,
      office files); HTML, SVG, XML, scripts and unknown types are served as octet-stream.
    - `inline` is honoured for audio and raster images only; everything else is an attachment.
    - Always `X-Content-Type-Options: nosniff` and a sandboxing Content-Security-Policy.
    - A single `Range: bytes=…` gets 206 with Content-Range (416 when unsatisfiable), so audio
      can be seeked; If-Range with a stale ETag gets the whole file.
    - With PRIVATE_FILES_ACCEL_REDIRECT_PREFIX set, the bytes (and ranges) are left to the
      front proxy through `X-Accel-Redirect`; the proxy location must be `internal`.
    Raises Http404 when the row has no file or the file is missing from storage."""
    if not fieldfile:
        raise Http404("No file.")
    filename = os.path.basename(filename or fieldfile.name)
    served_type = _safe_content_type(content_type, filename)
    inline = inline and (served_type.startswith("audio/") or served_type in INLINE_TYPES)

    storage = fieldfile.storage
    try:
        size = storage.size(fieldfile.name)
        modified = storage.get_modified_time(fieldfile.name)
    except (FileNotFoundError, NotImplementedError, OSError):
        raise Http404("File missing.") from None
    etag = f'"{size:x}-{int(modified.timestamp() * 1_000_000):x}"'

    def finish(response):
        response["Content-Type"] = served_type
        response["Content-Disposition"] = content_disposition_header(not inline, filename)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = FILE_CSP
        response["Cache-Control"] = "private, no-cache"
        response["ETag"] = etag
        response["Accept-Ranges"] = "bytes"
        return response

    prefix = getattr(settings, "PRIVATE_FILES_ACCEL_REDIRECT_PREFIX", "")
    if prefix:
        response = HttpResponse()
        response["X-Accel-Redirect"] = posixpath.join(prefix, quote(fieldfile.name))
        return finish(response)

    byte_range = None
    header = request.META.get("HTTP_RANGE", "")
    if_range = request.META.get("HTTP_IF_RANGE", "")
    if header and (not if_range or if_range == etag):
        byte_range = _parse_range(header, size)
    if byte_range is False:
        response = json_error_response(
            request, status_code=416, detail="The requested range is outside the file.", error_code="RANGE_NOT_SATISFIABLE"
        )
        response["Content-Range"] = f"bytes */{size}"
        return response

    try:
        fh = storage.open(fieldfile.name, "rb")
    except FileNotFoundError:
        raise Http404("File missing.") from None
    if byte_range is None:
        response = FileResponse(fh)
        response["Content-Length"] = str(size)
        return finish(response)
    start, end = byte_range
    length = end - start + 1
    response = StreamingHttpResponse(_read_range(fh, start, length), status=206)
    response["Content-Length"] = str(length)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return finish(response)


# --- URLs in API bodies -----------------------------------------------------------------------
def private_file_url(viewname: str, *, request=None, **kwargs) -> str:
    """The permission-checked download URL of a file (absolute when a request is given)."""
    url = reverse(viewname, kwargs=kwargs)
    return request.build_absolute_uri(url) if request is not None else url


class PrivateFileUrlMixin:
    """A writable file field whose output is the download view's URL instead of MEDIA_URL.
    `url_name` is the view's route name; it takes the row's primary key as `pk`."""

    def __init__(self, *args, url_name: str, **kwargs):
        self.url_name = url_name
        super().__init__(*args, **kwargs)

    def to_representation(self, value):
        if not value:
            return None
        return private_file_url(self.url_name, request=self.context.get("request"), pk=value.instance.pk)


class PrivateFileField(PrivateFileUrlMixin, serializers.FileField):
    pass


class PrivateImageField(PrivateFileUrlMixin, serializers.ImageField):
    pass
