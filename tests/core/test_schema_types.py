"""Every response in the OpenAPI schema has a declared shape: no operation answers a bare
`{"type": "object"}` (a client generator would type it as `any`). Errors use the envelope."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator


def _resolve(schema: dict, components: dict) -> dict:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _is_bare_object(schema: dict) -> bool:
    return schema.get("type") == "object" and not any(
        schema.get(key) for key in ("properties", "additionalProperties", "allOf", "oneOf", "anyOf")
    )


@pytest.fixture(scope="module")
def openapi():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_no_response_is_a_bare_object(openapi):
    components = openapi["components"]["schemas"]
    bare = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for code, response in operation.get("responses", {}).items():
                for media, body in response.get("content", {}).items():
                    schema = _resolve(body.get("schema", {}), components)
                    if schema.get("type") == "array":
                        schema = _resolve(schema.get("items", {}), components)
                    if _is_bare_object(schema):
                        bare.append(f"{method.upper()} {path} {code} {media}")
    assert bare == []


def test_declared_error_responses_use_the_envelope(openapi):
    download = openapi["paths"]["/api/v1/knowledge/documents/{doc_id}/download/"]["get"]["responses"]
    for code in ("404", "416"):
        assert download[code]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}
        assert download[code]["description"]  # the view's own description is kept
