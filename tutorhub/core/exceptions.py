"""One JSON error envelope for every API error.

Shape (a superset of what the canonical API, the school and the web-chat dialects show):
    {"detail": "...", "error": "...", "error_code": "VALIDATION_ERROR",
     "details": {field: [msgs]}, "request_id": "...", "timestamp": "..."}
A validation error also keeps DRF's field keys at the top level (the web-chat dialect's shape).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import got_request_exception
from django.http import Http404, JsonResponse
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from tutorhub.core.db import database_busy, database_unavailable
from tutorhub.core.middleware import get_request_id

logger = logging.getLogger("tutorhub.errors")

ERROR_CODES: list[tuple[type[Exception], str]] = [
    (exceptions.ValidationError, "VALIDATION_ERROR"),
    (exceptions.ParseError, "MALFORMED_REQUEST"),
    (exceptions.NotAuthenticated, "AUTHENTICATION_FAILED"),
    (exceptions.AuthenticationFailed, "AUTHENTICATION_FAILED"),
    (exceptions.PermissionDenied, "PERMISSION_DENIED"),
    (exceptions.NotFound, "RESOURCE_NOT_FOUND"),
    (exceptions.MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (exceptions.NotAcceptable, "NOT_ACCEPTABLE"),
    (exceptions.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (exceptions.Throttled, "RATE_LIMIT_EXCEEDED"),
]


class ServiceError(exceptions.APIException):
    """A use case refused the request for a business reason; services raise it with a code."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request could not be completed."
    default_code = "BAD_REQUEST"

    def __init__(self, detail: str | None = None, *, error_code: str | None = None, status_code: int | None = None):
        super().__init__(detail)
        if error_code:
            self.error_code = error_code
        if status_code:
            self.status_code = status_code


class PayloadTooLarge(ServiceError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    error_code = "PAYLOAD_TOO_LARGE"
    default_detail = "The request body is too large."


class Conflict(ServiceError):
    status_code = status.HTTP_409_CONFLICT
    error_code = "CONFLICT"


class ServiceUnavailable(ServiceError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    error_code = "SERVICE_UNAVAILABLE"
    default_detail = "An upstream service is unavailable; try again shortly."


class DatabaseBusy(ServiceUnavailable):
    """Overload, not a bug: every pooled PostgreSQL connection stayed busy for DB_POOL_TIMEOUT, or
    SQLite's write lock stayed taken for DB_SQLITE_BUSY_TIMEOUT_MS."""

    error_code = "DATABASE_BUSY"
    default_detail = "The server is busy; try again shortly."
    wait = 5  # sent as Retry-After by DRF's handler


class DatabaseUnavailable(ServiceUnavailable):
    """PostgreSQL refused or dropped the connection (stopped, restarting, network cut): an outage
    the client should retry after, not a server bug."""

    error_code = "DATABASE_UNAVAILABLE"
    default_detail = "The database is unavailable; try again shortly."
    wait = 5  # sent as Retry-After by DRF's handler


def error_body(
    *, detail: str, error_code: str, details: dict | None = None, request_id: str | None = None
) -> dict[str, Any]:
    return {
        "detail": detail,
        "error": detail,
        "error_code": error_code,
        "details": details or {},
        "request_id": request_id or get_request_id(),
        "timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
    }


def _code_for(exc: Exception) -> str:
    explicit = getattr(exc, "error_code", None)
    if explicit:
        return explicit
    for cls, code in ERROR_CODES:
        if isinstance(exc, cls):
            return code
    return "ERROR"


def _first_message(details: Any) -> str:
    if isinstance(details, dict):
        for value in details.values():
            return _first_message(value)
    if isinstance(details, list) and details:
        return _first_message(details[0])
    return str(details) if details else "Invalid input."


def exception_handler(exc: Exception, context: dict) -> Response:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        # Raised while DRF reads request.data / request.body past DATA_UPLOAD_MAX_MEMORY_SIZE.
        exc = PayloadTooLarge()
    elif isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        exc = exceptions.ParseError(str(exc))
    elif database_busy(exc):
        logger.warning("Database busy in %s (%s): 503", context.get("view").__class__.__name__, exc)
        exc = DatabaseBusy()
    elif database_unavailable(exc):
        logger.warning("Database unavailable in %s (%s): 503", context.get("view").__class__.__name__, exc)
        exc = DatabaseUnavailable()

    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        # Django sends this signal for any exception that escapes a view; DRF handles them here
        # instead, so send it ourselves: error trackers (Sentry's Django integration, see
        # tutorhub.core.errortracking) and the test client listen to it. We are still inside
        # DRF's `except` block, so receivers see the exception in sys.exc_info().
        request = context.get("request")
        got_request_exception.send(sender=None, request=getattr(request, "_request", request))
        body = error_body(detail="A server error occurred.", error_code="INTERNAL_ERROR")
        return Response(body, status=status.HTTP_500_INTERNAL_SERVER_ERROR)

    data = response.data
    code = _code_for(exc)
    if isinstance(exc, exceptions.ValidationError):
        details = data if isinstance(data, dict) else {"non_field_errors": data if isinstance(data, list) else [data]}
        detail = "Validation failed" if len(details) != 1 or "non_field_errors" not in details else _first_message(details)
        body = error_body(detail=detail, error_code=code, details=details)
        body["error"] = "Validation failed"
        # Keep DRF's field keys at the top level for clients written against plain DRF.
        for key, value in details.items():
            body.setdefault(key, value)
        if "non_field_errors" in details:
            body["detail"] = _first_message(details)
    else:
        if isinstance(data, dict) and "detail" in data:
            detail = str(data["detail"])
            extra = {k: v for k, v in data.items() if k != "detail"}
        else:
            detail, extra = _first_message(data), {}
        body = error_body(detail=detail, error_code=code, details=extra)
        # Throttled, and upstream refusals that know when to come back (ChatReplyFailed);
        # DRF sends the same number as the Retry-After header.
        if getattr(exc, "wait", None) is not None:
            body["details"]["retry_after_seconds"] = int(exc.wait)
    response.data = body
    return response


# The envelope's text and code for errors raised outside DRF (URL resolution, CSRF, Django's
# own 4xx/5xx pages); used by the handlers below and tutorhub.core.middleware.
GENERIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("Bad request.", "BAD_REQUEST"),
    403: ("You do not have permission to perform this action.", "PERMISSION_DENIED"),
    404: ("Not found.", "RESOURCE_NOT_FOUND"),
    405: ("Method not allowed.", "METHOD_NOT_ALLOWED"),
    413: (PayloadTooLarge.default_detail, PayloadTooLarge.error_code),
    500: ("A server error occurred.", "INTERNAL_ERROR"),
}


def json_error_response(request, *, status_code: int, detail: str, error_code: str) -> JsonResponse:
    return JsonResponse(error_body(detail=detail, error_code=error_code), status=status_code)


def generic_error_response(status_code: int) -> JsonResponse:
    detail, code = GENERIC_ERRORS.get(status_code, ("The request failed.", "ERROR"))
    return JsonResponse(error_body(detail=detail, error_code=code), status=status_code)


def handler404(request, exception=None):
    return generic_error_response(404)


def handler500(request):
    return generic_error_response(500)


def handler403(request, exception=None):
    return generic_error_response(403)


def handler400(request, exception=None):
    return generic_error_response(413 if isinstance(exception, RequestDataTooBig) else 400)
