"""Rate limits per scope with X-RateLimit-* headers and a 429 envelope."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    def set_rates(**overrides):
        settings.THROTTLING_ENABLED = True
        rest = dict(settings.REST_FRAMEWORK)
        rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], **overrides}
        settings.REST_FRAMEWORK = rest

    cache.clear()
    yield set_rates
    cache.clear()


def test_login_is_limited_by_the_auth_scope(anon_client, user, rates):
    rates(auth="3/min", anon="100/min")
    remaining = []
    for _ in range(3):
        response = anon_client.post("/api/v1/accounts/login/", {"username": user.username, "password": "wrong-1"}, format="json")
        assert response.status_code == 401
        assert response["X-RateLimit-Limit"] == "3"
        remaining.append(response["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]

    # Even the right password is refused once the budget is spent: no brute forcing.
    response = anon_client.post("/api/v1/accounts/login/", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 429
    body = response.json()
    assert body["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert {"detail", "error", "details", "request_id", "timestamp"} <= set(body)
    assert body["details"]["retry_after_seconds"] > 0
    assert response["X-RateLimit-Remaining"] == "0"
    assert int(response["Retry-After"]) > 0


def test_register_shares_the_auth_scope(anon_client, rates):
    rates(auth="1/min", anon="100/min")
    anon_client.post("/api/v1/accounts/register/", {}, format="json")
    assert anon_client.post("/api/v1/auth/register/", {}, format="json").status_code == 429


def test_authenticated_users_have_their_own_budget(api_client, rates):
    rates(user="2/min")
    assert api_client.get("/api/v1/accounts/profile/")["X-RateLimit-Remaining"] == "1"
    assert api_client.get("/api/v1/accounts/profile/").status_code == 200
    assert api_client.get("/api/v1/accounts/profile/").status_code == 429


def test_anonymous_rate(anon_client, rates):
    rates(anon="2/min")
    assert anon_client.post("/api/token/refresh/", {}, format="json")["X-RateLimit-Limit"] == "2"
    anon_client.post("/api/token/refresh/", {}, format="json")
    assert anon_client.post("/api/token/refresh/", {}, format="json").status_code == 429


def test_throttling_off_means_no_headers(anon_client, settings):
    settings.THROTTLING_ENABLED = False
    response = anon_client.post("/api/token/refresh/", {}, format="json")
    assert "X-RateLimit-Limit" not in response


def test_payment_webhooks_have_their_own_per_address_budget(anon_client, rates):
    # Signed callbacks have no user: before, they had no throttle at all.
    rates(webhooks="2/min", anon="100/min")
    statuses = [anon_client.post("/api/v1/billing/webhooks/stripe/", {}, format="json").status_code for _ in range(3)]
    assert statuses[2] == 429 and 429 not in statuses[:2]
