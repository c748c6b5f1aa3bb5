"""Plans, the current subscription, upgrades through the provider backends, provider webhooks."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import client_for
from tutorhub.billing.models import ProviderEvent, Subscription, SubscriptionChange, UsageRecord
from tutorhub.billing.providers import StripeStyleProvider
from tutorhub.billing.services import QuotaExceeded, quota_check

pytestmark = pytest.mark.django_db
SUB = "/api/v1/billing/subscription/"
UPGRADE = SUB + "upgrade/"


def test_plans_are_seeded_and_listed(anon_client):
    plans = anon_client.get("/api/v1/billing/plans/").json()
    assert [p["plan_id"] for p in plans] == ["free", "premium_monthly", "premium_yearly"]
    assert plans[0]["is_default"] and plans[0]["ai_tokens_limit"] == 50_000


def test_users_without_subscription_are_on_the_free_plan(api_client):
    data = api_client.get(SUB).json()
    assert data["plan"]["plan_id"] == "free" and data["is_default_plan"] and data["status"] == "active"
    assert data["current_period_start"][8:10] == "01"  # calendar month


def test_upgrade_with_the_default_provider(api_client, user):
    res = api_client.post(UPGRADE, {"plan_id": "premium_monthly", "payment_method_token": "pm_1234567890"}, format="json")
    assert res.status_code == 200, res.json()
    assert res.json()["change"]["status"] == "succeeded"
    sub = res.json()["subscription"]
    assert sub["plan"]["plan_id"] == "premium_monthly" and sub["payment_method_last4"] == "7890" and sub["provider"] == "local"
    assert api_client.get(SUB).json()["plan"]["plan_id"] == "premium_monthly"
    # The new plan's limits apply at once
    UsageRecord.objects.create(user=user, kind="ai_tokens", amount=60_000)
    quota_check(user=user, kind="ai_tokens", amount=100_000)
    assert api_client.post(UPGRADE, {"plan_id": "premium_monthly", "payment_method_token": "pm_1234567890"}, format="json").status_code == 409
    # Downgrading to free needs no payment method; the free limits are back
    assert api_client.post(UPGRADE, {"plan_id": "free"}, format="json").status_code == 200
    with pytest.raises(QuotaExceeded):
        quota_check(user=user, kind="ai_tokens", amount=100)


def test_upgrade_validation(api_client):
    assert api_client.post(UPGRADE, {"plan_id": "gold"}, format="json").status_code == 400
    res = api_client.post(UPGRADE, {"plan_id": "premium_monthly"}, format="json")
    assert res.status_code == 400 and "payment_method_token" in res.json()["details"]
    assert api_client.post(UPGRADE, {"plan_id": "premium_monthly", "payment_method_token": "x y;"}, format="json").status_code == 400
    assert api_client.post(UPGRADE, {}, format="json").status_code == 400
    assert not Subscription.objects.exists() and not SubscriptionChange.objects.filter(status="succeeded").exists()


@pytest.fixture
def stripe(settings):
    settings.BILLING_PAYMENT_PROVIDER = {
        "BACKEND": "tutorhub.billing.providers.StripeStyleProvider", "OPTIONS": {"webhook_secret": "whsec_test"}
    }
    return StripeStyleProvider(webhook_secret="whsec_test")


def post_webhook(client, provider, payload: dict, *, signature: str | None = None):
    body = json.dumps(payload).encode()
    return client.generic(
        "POST", "/api/v1/billing/webhooks/stripe/", body, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature if signature is not None else provider.sign(body),
    )


def test_stripe_style_upgrade_waits_for_a_verified_webhook(stripe, api_client, anon_client, user):
    res = api_client.post(UPGRADE, {"plan_id": "premium_yearly", "payment_method_token": "pm_card_4242"}, format="json")
    assert res.status_code == 202 and res.json()["change"]["status"] == "pending"
    assert res.json()["subscription"]["plan"]["plan_id"] == "free"
    assert res.json()["subscription"]["pending_change"]["plan_id"] == "premium_yearly"
    reference = res.json()["change"]["reference"]
    event = {"id": "evt_1", "type": "invoice.paid", "data": {"object": {"customer": "cus_9", "metadata": {"reference": reference}}}}
    # Forged, tampered, stale and malformed webhooks are refused and change nothing
    assert post_webhook(anon_client, stripe, event, signature="t=1,v1=deadbeef").status_code == 400
    other = StripeStyleProvider(webhook_secret="wrong")
    assert post_webhook(anon_client, stripe, event, signature=other.sign(json.dumps(event).encode())).status_code == 400
    stale = stripe.sign(json.dumps(event).encode(), timestamp=int(time.time()) - 3600)
    assert post_webhook(anon_client, stripe, event, signature=stale).status_code == 400
    assert post_webhook(anon_client, stripe, {"no": "id"}).status_code == 400
    assert anon_client.post("/api/v1/billing/webhooks/other/", {}, format="json").status_code == 400
    assert api_client.get(SUB).json()["plan"]["plan_id"] == "free"
    # The genuine event applies the change once
    res = post_webhook(anon_client, stripe, event)
    assert res.status_code == 200 and res.json()["applied"] is True
    sub = api_client.get(SUB).json()
    assert sub["plan"]["plan_id"] == "premium_yearly" and sub["provider"] == "stripe" and sub["pending_change"] is None
    assert Subscription.objects.get(user=user).provider_customer_id == "cus_9"
    assert post_webhook(anon_client, stripe, event).json()["duplicate"] is True
    assert ProviderEvent.objects.count() == 1


def test_stripe_style_failed_payment(stripe, api_client, anon_client):
    reference = api_client.post(UPGRADE, {"plan_id": "premium_monthly", "payment_method_token": "pm_card_0002"}, format="json").json()["change"]["reference"]
    event = {"id": "evt_2", "type": "invoice.payment_failed", "data": {"object": {"metadata": {"reference": reference}}}}
    assert post_webhook(anon_client, stripe, event).json()["status"] == "failed"
    assert api_client.get(SUB).json()["plan"]["plan_id"] == "free"


def test_subscription_requires_auth(anon_client, other_user, api_client):
    assert anon_client.get(SUB).status_code == 401
    client_for(other_user).post(UPGRADE, {"plan_id": "premium_monthly", "payment_method_token": "pm_1234"}, format="json")
    assert api_client.get(SUB).json()["plan"]["plan_id"] == "free"  # someone else's upgrade is theirs
