"""OpenAPI (drf-spectacular) extensions shared by every app. Imported by CoreConfig.ready()."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import extend_schema, extend_schema_view


class JWTScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <jwt>`. simplejwt also accepts the `JWT` prefix; OpenAPI can name
    only one, and the stock extension warns about that on every view (failing `check --deploy`)."""

    target_class = "rest_framework_simplejwt.authentication.JWTAuthentication"
    match_subclasses = True  # tutorhub.accounts.authentication.JWTAuthentication
    name = "jwtAuth"
    priority = 1

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="HTTP_AUTHORIZATION", token_prefix="Bearer", bearer_format="JWT"
        )


_OPERATION_SUFFIX = {"get": "retrieve", "post": "create", "put": "update", "patch": "partial_update", "delete": "destroy"}


def aliased(view: type, operation_prefix: str) -> type:
    """`view` for mounting at one more path, with its own OpenAPI operation ids.

    drf-spectacular derives ids from the path minus `/api/(v1/)?`, so a seed alias that differs
    from the canonical path only by `/v1/` (or `-` vs `/`) would collide with it."""
    subclass = type(view.__name__, (view,), {"__module__": view.__module__, "__doc__": view.__doc__})
    methods = {
        method: extend_schema(operation_id=f"{operation_prefix}_{suffix}")
        for method, suffix in _OPERATION_SUFFIX.items()
        if hasattr(view, method)
    }
    return extend_schema_view(**methods)(subclass)


# Every API error is the envelope of tutorhub.core.exceptions; a validation error also keeps
# DRF's field keys at the top level (web-chat dialect), hence additionalProperties.
ERROR_ENVELOPE = {
    "type": "object",
    "description": "The error envelope every API error uses.",
    "properties": {
        "detail": {"type": "string"},
        "error": {"type": "string"},
        "error_code": {"type": "string", "example": "VALIDATION_ERROR"},
        "details": {"type": "object", "additionalProperties": True},
        "request_id": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
    },
    "required": ["detail", "error_code"],
    "additionalProperties": True,
}
# What any operation can answer before or besides its own logic: malformed or invalid input,
# missing or refused credentials, objects the caller cannot see, a method the path lacks,
# bodies too large or of the wrong media type, throttling, a busy database.
ERROR_RESPONSES = {
    "400": "Malformed or invalid request.",
    "401": "Authentication credentials were not provided or are invalid.",
    "403": "The caller may not do this.",
    "404": "Not found (or not visible to the caller).",
    "405": "Method not allowed.",
    "413": "Request body too large.",
    "415": "Unsupported media type.",
    "429": "Rate limit or usage quota exceeded.",
    "503": "Temporarily unavailable (a busy database, an unreachable upstream); retry after Retry-After.",
}
# And what a write can meet: a state that forbids it (already confirmed, already on the plan)
# or content that cannot be used (an unreadable file, no material to generate from).
WRITE_ERROR_RESPONSES = {
    "409": "Conflicts with the object's current state.",
    "422": "The content could not be processed.",
}


def document_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the error envelope for the statuses in
    ERROR_RESPONSES to every operation, keeping any error response a view declares itself."""
    result.setdefault("components", {}).setdefault("schemas", {})["ErrorEnvelope"] = ERROR_ENVELOPE
    reference = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in {"get", "put", "patch", "post", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            errors = {**ERROR_RESPONSES, **(WRITE_ERROR_RESPONSES if method != "get" else {})}
            for code, description in errors.items():
                responses.setdefault(code, {"description": description, "content": {"application/json": {"schema": reference}}})
            # An error a view declared with a bare object (to give it a description) is the envelope too.
            for code, response in responses.items():
                body = response.get("content", {}).get("application/json")
                schema = (body or {}).get("schema", {})
                if code.isdigit() and int(code) >= 400 and schema.get("type") == "object" and not schema.get("properties"):
                    body["schema"] = reference
    return result
