"""OpenAPI (drf-spectacular) extensions shared by every app. Imported by CoreConfig.ready()."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import extend_schema, extend_schema_view


class JWTScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <jwt>`. simplejwt also accepts the `JWT` prefix; OpenAPI can name
    only one, and the stock extension warns about that on every view (failing `check --deploy`)."""

    target_class = "rest_framework_simplejwt.authentication.JWTAuthentication"
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
