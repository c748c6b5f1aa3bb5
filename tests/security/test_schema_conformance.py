"""Schemathesis as an authenticated student (issue 11): every operation of the OpenAPI schema,
in process against the WSGI app, must answer without a server error, with a status code the
schema documents for it, and with a body (and content type) that matches the documented schema.

tests/test_schema.py walks the API as an admin for server errors only; a student meets the
403/404 side of the same operations, which is where undocumented answers used to hide.
Bounded: a few deterministic examples per operation, no coverage or stateful phases.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from tests.factories import CourseFactory, UserFactory
from tutorhub.wsgi import application

CONFIG = schemathesis.Config.from_dict(
    {
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "generation": {"max-examples": 3, "deterministic": True, "database": "none", "mode": "all"},
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]


@pytest.fixture
def student_bearer(db, keep_test_transaction) -> dict[str, str]:
    student = UserFactory(role="student")
    CourseFactory(owner=student)  # something of their own for list and filter answers to carry
    return {"Authorization": f"Bearer {RefreshToken.for_user(student).access_token}"}


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=3)
def test_responses_conform_to_the_schema(case, student_bearer):
    try:
        case.call_and_validate(headers=student_bearer, checks=CHECKS)
    except FailureGroup as failures:
        raise AssertionError(f"{case.operation.label}: {failures}") from failures
