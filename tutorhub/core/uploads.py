"""Per-endpoint upload limits: one 413 FILE_TOO_LARGE for every upload, and a check of the
declared body size before the multipart body is parsed.

The global body limit (RequestBodyLimitMiddleware) has to admit the largest upload of any
endpoint; an endpoint with a smaller limit refuses a body that cannot fit its file from the
Content-Length header, before Django spools the upload to disk. The service still checks the
file's own size (a chunked body has no Content-Length).
"""

from __future__ import annotations

from tutorhub.core.exceptions import ServiceError

MB = 1024 * 1024
# Room for a form's other fields (up to ~40,000 characters of text) and the multipart framing.
FORM_OVERHEAD_BYTES = 256 * 1024


def _size(limit: int) -> str:
    return f"{limit / MB:g} MB" if limit >= MB else f"{limit:,} bytes"


def upload_too_large(limit: int, what: str = "file") -> ServiceError:
    """The error for an upload over `limit` bytes (raise it)."""
    return ServiceError(f"The {what} is larger than the {_size(limit)} limit.", error_code="FILE_TOO_LARGE", status_code=413)


def refuse_oversized_body(request, limit: int, what: str = "file") -> None:
    """Raise 413 when the request declares a body too large to hold a `limit`-byte file.
    Call it before touching `request.data`."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return  # the server or the parser rejects a malformed length
    if length > limit + FORM_OVERHEAD_BYTES:
        raise upload_too_large(limit, what)
