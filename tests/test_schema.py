"""Walk the whole OpenAPI schema with schemathesis, in process against the Django WSGI app, as a
freshly registered admin with a real JWT: no operation may answer with a 5xx.

One test per operation, kept bounded (few examples each) so the walk stays well under two
minutes."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup

from tests.factories import UserFactory
from tutorhub.wsgi import application

# Fuzzing with positive and negative data, a few examples per operation. The coverage phase
# (hundreds of boundary cases per operation) would take minutes for the whole API.
CONFIG = schemathesis.Config.from_dict(
    {
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "generation": {"max-examples": 5, "deterministic": True, "database": "none", "mode": "all"},
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)


@pytest.fixture
def bearer(db, keep_test_transaction) -> dict[str, str]:
    # An admin reaches the most code: admin-only endpoints too, not just their 403.
    user = UserFactory(role="admin", is_staff=True)
    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, bearer):
    try:
        case.call_and_validate(headers=bearer, checks=[not_a_server_error])
    except FailureGroup as failures:
        # pytest 9 leaves the operation out of these items' node ids, so the one-line summary
        # would not say which endpoint failed; the message does.
        raise AssertionError(f"{case.operation.label}: {failures}") from failures
