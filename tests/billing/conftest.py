"""A fake Stripe API for the payment tests (the real SDK talks to it over loopback)."""

from __future__ import annotations

import pytest

from tests.fakes.stripe_server import FakeStripeServer

WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture(scope="session")
def fake_stripe_server():
    server = FakeStripeServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_stripe(fake_stripe_server, settings):
    """Stripe configured as the payment provider, pointed at the fake server."""
    fake_stripe_server.reset()
    settings.BILLING_PAYMENT_PROVIDER = {
        "BACKEND": "tutorhub.billing.providers.StripeProvider",
        "OPTIONS": {
            "api_key": "sk_test_fake",
            "webhook_secret": WEBHOOK_SECRET,
            "api_base": fake_stripe_server.base_url,
            "timeout": 5.0,
            "max_network_retries": 0,
        },
    }
    return fake_stripe_server


@pytest.fixture
def no_payment_provider(settings):
    settings.BILLING_PAYMENT_PROVIDER = {"BACKEND": "tutorhub.billing.providers.NoPaymentProvider", "OPTIONS": {}}
