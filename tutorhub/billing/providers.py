"""Payment providers for subscription changes, configured like the AI backends:

    BILLING_PAYMENT_PROVIDER = {"BACKEND": "tutorhub.billing.providers.RecordingProvider", "OPTIONS": {}}

* RecordingProvider (default, "local"): no payment processor; the change is recorded and applied
  at once (self-hosted deployments that bill outside the app, or give plans away).
* StripeStyleProvider ("stripe"): the change stays pending until the processor's webhook says the
  invoice was paid. Webhooks are verified the way Stripe signs them: header
  `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the endpoint
  secret>`, rejected outside `tolerance_seconds`. No SDK and no network: the processor calls us.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from rest_framework import status

from tutorhub.core.exceptions import ServiceError


class WebhookError(ServiceError):
    status_code = status.HTTP_400_BAD_REQUEST
    error_code = "INVALID_WEBHOOK"
    default_detail = "The webhook could not be verified."


@dataclass
class ChangeResult:
    status: str  # "succeeded" | "pending" | "failed"
    customer_id: str = ""
    last4: str = ""


@dataclass
class WebhookEvent:
    id: str
    type: str
    reference: str
    outcome: str  # "succeeded" | "failed" | "" (not about a plan change)
    customer_id: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


class PaymentProvider:
    name = "base"

    def __init__(self, **options: Any):
        self.options = options

    def start_change(self, *, user, plan, payment_method_token: str, reference: str) -> ChangeResult:
        raise NotImplementedError

    def parse_webhook(self, *, body: bytes, headers) -> WebhookEvent:
        raise WebhookError("This payment provider does not accept webhooks.")


class RecordingProvider(PaymentProvider):
    name = "local"

    def start_change(self, *, user, plan, payment_method_token: str, reference: str) -> ChangeResult:
        return ChangeResult(status="succeeded", last4=(payment_method_token or "")[-4:] if plan.price_cents else "")


class StripeStyleProvider(PaymentProvider):
    name = "stripe"
    SUCCEEDED = {"invoice.paid", "invoice.payment_succeeded", "checkout.session.completed"}
    FAILED = {"invoice.payment_failed", "checkout.session.expired"}

    def __init__(self, *, webhook_secret: str = "", tolerance_seconds: int = 300, **options: Any):
        super().__init__(**options)
        self.webhook_secret = webhook_secret
        self.tolerance_seconds = tolerance_seconds

    def start_change(self, *, user, plan, payment_method_token: str, reference: str) -> ChangeResult:
        if not plan.price_cents:  # nothing to charge: a downgrade to a free plan applies at once
            return ChangeResult(status="succeeded")
        return ChangeResult(status="pending", last4=payment_method_token[-4:])

    def sign(self, body: bytes, timestamp: int | None = None) -> str:
        """The header value a processor sends (used by tests and local tooling)."""
        t = int(timestamp if timestamp is not None else time.time())
        digest = hmac.new(self.webhook_secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        return f"t={t},v1={digest}"

    def parse_webhook(self, *, body: bytes, headers) -> WebhookEvent:
        if not self.webhook_secret:
            raise WebhookError("Webhook secret is not configured.")
        header = headers.get("Stripe-Signature", "")
        parts: dict[str, list[str]] = {}
        for item in header.split(","):
            key, _, value = item.strip().partition("=")
            parts.setdefault(key, []).append(value)
        try:
            timestamp = int(parts.get("t", [""])[0])
        except ValueError:
            raise WebhookError("Missing or malformed signature header.") from None
        if abs(time.time() - timestamp) > self.tolerance_seconds:
            raise WebhookError("The webhook timestamp is outside the tolerance window.")
        expected = self.sign(body, timestamp).split("v1=", 1)[1]
        if not any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", [])):
            raise WebhookError("The webhook signature does not match.")
        try:
            payload = json.loads(body)
            obj = payload.get("data", {}).get("object", {}) or {}
            event_type = str(payload["type"])
            event = WebhookEvent(
                id=str(payload["id"]),
                type=event_type,
                reference=str((obj.get("metadata") or {}).get("reference", "")),
                outcome="succeeded" if event_type in self.SUCCEEDED else "failed" if event_type in self.FAILED else "",
                customer_id=str(obj.get("customer") or ""),
                payload=payload,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise WebhookError("The webhook body is not a valid event.") from None
        return event


def payment_provider() -> PaymentProvider:
    config = settings.BILLING_PAYMENT_PROVIDER
    try:
        cls = import_string(config["BACKEND"])
    except (ImportError, KeyError) as exc:
        raise ImproperlyConfigured(f"BILLING_PAYMENT_PROVIDER: {exc}") from exc
    return cls(**(config.get("OPTIONS") or {}))
