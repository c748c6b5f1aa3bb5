"""Plans, the current subscription, upgrades through the provider backends, provider webhooks."""

from __future__ import annotations

import json
import time

import pytest

from tests.billing.conftest import WEBHOOK_SECRET
from tests.conftest import client_for
from tests.fakes.stripe_server import event, sign
from tutorhub.billing.models import Plan, ProviderEvent, Subscription, SubscriptionChange, UsageRecord
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


def test_without_a_provider_paid_plans_are_for_administrators(no_payment_provider, api_client, user):
    # issue 11: any token used to buy a paid plan with the default provider
    res = api_client.post(UPGRADE, {"plan_id": "premium_yearly", "payment_method_token": "tok_fake"}, format="json")
    assert res.status_code == 403, res.json()
    body = res.json()
    assert body["error_code"] == "PAYMENT_PROVIDER_NOT_CONFIGURED" and "ask an administrator" in body["detail"]
    assert api_client.get(SUB).json()["plan"]["plan_id"] == "free"
    assert not SubscriptionChange.objects.exists()
    # An administrator puts the user on the paid plan; moving back to free needs nobody
    Subscription.objects.create(user=user, plan=Plan.objects.get(code="premium_monthly"), provider="admin")
    assert api_client.get(SUB).json()["plan"]["plan_id"] == "premium_monthly"
    res = api_client.post(UPGRADE, {"plan_id": "free"}, format="json")
    assert res.status_code == 200 and res.json()["change"]["status"] == "succeeded"
    assert api_client.get(SUB).json()["plan"]["plan_id"] == "free"


def test_the_default_settings_configure_no_payment_provider():
    from tutorhub.billing.providers import NoPaymentProvider, payment_provider

    assert isinstance(payment_provider(), NoPaymentProvider)


def test_admin_sets_a_plan_in_the_django_admin(user):
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    admin_client = Client()
    admin_client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "x" * 16))
    url = reverse("admin:billing_subscription_add")
    assert admin_client.get(url).status_code == 200
    plan = Plan.objects.get(code="premium_yearly")
    res = admin_client.post(url, {"user": user.pk, "plan": plan.pk, "status": "active", "current_period_start_0": "2026-01-01",
                                  "current_period_start_1": "00:00:00", "provider": "admin"})
    assert res.status_code == 302, res.content[:2000]
    assert Subscription.objects.get(user=user).plan == plan


def test_upgrade_confirmed_through_stripe(fake_stripe, api_client, user):
    res = api_client.post(UPGRADE, {"plan_id": "premium_monthly", "payment_method_token": "pm_card_visa"}, format="json")
    assert res.status_code == 200, res.json()
    assert res.json()["change"]["status"] == "succeeded"
    sub = res.json()["subscription"]
    assert sub["plan"]["plan_id"] == "premium_monthly" and sub["payment_method_last4"] == "4242" and sub["provider"] == "stripe"
    # What the SDK sent: the plan's price, confirmed at once, idempotent on the change's reference
    (_, path, form, headers), = fake_stripe.requests
    reference = res.json()["change"]["reference"]
    assert path == "/v1/payment_intents" and form["amount"] == "999" and form["currency"] == "usd"
    assert form["confirm"] == "true" and form["payment_method"] == "pm_card_visa"
    assert form["metadata"]["reference"] == reference and headers["Idempotency-Key"] == reference
    # The new plan's limits apply at once
    UsageRecord.objects.create(user=user, kind="ai_tokens", amount=60_000)
    quota_check(user=user, kind="ai_tokens", amount=100_000)
    assert api_client.post(UPGRADE, {"plan_id": "premium_monthly", "payment_method_token": "pm_card_visa"}, format="json").status_code == 409
    # Downgrading to free charges nothing; the free limits are back
    assert api_client.post(UPGRADE, {"plan_id": "free"}, format="json").status_code == 200
    assert len(fake_stripe.requests) == 1
    with pytest.raises(QuotaExceeded):
        quota_check(user=user, kind="ai_tokens", amount=100)


@pytest.mark.parametrize(
    ("token", "fragment"),
    [
        ("pm_card_chargeDeclined", "card_declined"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient funds"),
        ("pm_card_authenticationRequired", "authentication"),
        ("tok_fake", "not accepted"),
    ],
)
def test_declined_payment_leaves_the_plan_unchanged(fake_stripe, api_client, token, fragment):
    res = api_client.post(UPGRADE, {"plan_id": "premium_yearly", "payment_method_token": token}, format="json")
    assert res.status_code == 402, res.json()
    assert res.json()["error_code"] == "PAYMENT_DECLINED" and fragment in res.json()["detail"]
    assert api_client.get(SUB).json()["plan"]["plan_id"] == "free"
    assert not Subscription.objects.exists()
    assert SubscriptionChange.objects.get().status == "failed"


def test_unreachable_stripe_is_a_503_and_changes_nothing(fake_stripe, settings, api_client):
    settings.BILLING_PAYMENT_PROVIDER["OPTIONS"]["api_base"] = "http://127.0.0.1:9"  # nothing listens on discard
    res = api_client.post(UPGRADE, {"plan_id": "premium_monthly", "payment_method_token": "pm_card_visa"}, format="json")
    assert res.status_code == 503 and res.json()["error_code"] == "SERVICE_UNAVAILABLE"
    assert "127.0.0.1" not in res.json()["detail"]
    assert api_client.get(SUB).json()["plan"]["plan_id"] == "free"


def test_upgrade_validation(fake_stripe, api_client):
    assert api_client.post(UPGRADE, {"plan_id": "gold"}, format="json").status_code == 400
    res = api_client.post(UPGRADE, {"plan_id": "premium_monthly"}, format="json")
    assert res.status_code == 400 and "payment_method_token" in res.json()["details"]
    assert api_client.post(UPGRADE, {"plan_id": "premium_monthly", "payment_method_token": "x y;"}, format="json").status_code == 400
    assert api_client.post(UPGRADE, {}, format="json").status_code == 400
    assert not Subscription.objects.exists() and not SubscriptionChange.objects.exists()
    assert fake_stripe.requests == []


def post_webhook(client, payload: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None, signature: str | None = None):
    body = json.dumps(payload).encode()
    return client.generic(
        "POST", "/api/v1/billing/webhooks/stripe/", body, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature if signature is not None else sign(body, secret, timestamp),
    )


def test_processing_payment_is_settled_by_a_verified_webhook(fake_stripe, api_client, anon_client, user):
    res = api_client.post(UPGRADE, {"plan_id": "premium_yearly", "payment_method_token": "pm_card_processing"}, format="json")
    assert res.status_code == 202 and res.json()["change"]["status"] == "pending"
    assert res.json()["subscription"]["plan"]["plan_id"] == "free"
    assert res.json()["subscription"]["pending_change"]["plan_id"] == "premium_yearly"
    reference = res.json()["change"]["reference"]
    intent = next(iter(fake_stripe.intents.values()))
    succeeded = event("payment_intent.succeeded", {**intent, "status": "succeeded", "customer": "cus_9"}, event_id="evt_1")
    # Forged, tampered, stale and malformed webhooks are refused and change nothing
    assert post_webhook(anon_client, succeeded, signature="t=1,v1=deadbeef").status_code == 400
    assert post_webhook(anon_client, succeeded, secret="whsec_wrong").status_code == 400
    stale = post_webhook(anon_client, succeeded, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 400 and stale.json()["error_code"] == "INVALID_WEBHOOK"
    assert post_webhook(anon_client, {"no": "id"}).status_code == 400
    assert anon_client.post("/api/v1/billing/webhooks/other/", {}, format="json").status_code == 400
    assert api_client.get(SUB).json()["plan"]["plan_id"] == "free"
    # The genuine event applies the change once; its replay is acknowledged and does nothing
    res = post_webhook(anon_client, succeeded)
    assert res.status_code == 200 and res.json()["applied"] is True
    sub = api_client.get(SUB).json()
    assert sub["plan"]["plan_id"] == "premium_yearly" and sub["provider"] == "stripe" and sub["pending_change"] is None
    assert Subscription.objects.get(user=user).provider_customer_id == "cus_9"
    assert SubscriptionChange.objects.get(reference=reference).status == "succeeded"
    replay = post_webhook(anon_client, succeeded)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    assert ProviderEvent.objects.count() == 1
    # A later event about the settled change (another id) does not undo it
    failed = event("payment_intent.payment_failed", intent, event_id="evt_late")
    assert post_webhook(anon_client, failed).json()["applied"] is False
    assert api_client.get(SUB).json()["plan"]["plan_id"] == "premium_yearly"


def test_failed_payment_webhook(fake_stripe, api_client, anon_client):
    res = api_client.post(UPGRADE, {"plan_id": "premium_monthly", "payment_method_token": "pm_card_processing"}, format="json")
    intent = next(iter(fake_stripe.intents.values()))
    assert intent["metadata"]["reference"] == res.json()["change"]["reference"]
    failed = event("payment_intent.payment_failed", {**intent, "status": "requires_payment_method"}, event_id="evt_2")
    assert post_webhook(anon_client, failed).json()["status"] == "failed"
    assert api_client.get(SUB).json()["plan"]["plan_id"] == "free"


def test_webhook_without_a_secret_is_refused(fake_stripe, settings, anon_client):
    settings.BILLING_PAYMENT_PROVIDER["OPTIONS"]["webhook_secret"] = ""
    res = post_webhook(anon_client, event("payment_intent.succeeded", {"metadata": {}}))
    assert res.status_code == 400 and not ProviderEvent.objects.exists()


def test_subscription_requires_auth(fake_stripe, anon_client, other_user, api_client):
    assert anon_client.get(SUB).status_code == 401
    res = client_for(other_user).post(UPGRADE, {"plan_id": "premium_monthly", "payment_method_token": "pm_card_visa"}, format="json")
    assert res.status_code == 200
    assert api_client.get(SUB).json()["plan"]["plan_id"] == "free"  # someone else's upgrade is theirs
