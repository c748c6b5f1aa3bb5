"""Payment providers for subscription changes, configured like the AI backends:

    BILLING_PAYMENT_PROVIDER = {"BACKEND": "tutorhub.billing.providers.StripeProvider", "OPTIONS": {...}}

* NoPaymentProvider (default, "none"): no payment processor is configured, so nothing can be
  charged: a user may move to a free plan, and only an administrator (Django admin, Subscription)
  puts anyone on a paid plan. A plan change is never granted on the strength of a token alone.
* StripeProvider ("stripe", switched on by STRIPE_SECRET_KEY): charges the plan's price through
  Stripe's official SDK (a PaymentIntent confirmed at once with the client's payment method) and
  changes the plan only when Stripe says the payment succeeded; a payment still processing is
  settled later by Stripe's signed webhook (payment_intent.succeeded / .payment_failed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from rest_framework import status

from tutorhub.core.exceptions import ServiceError, ServiceUnavailable


class WebhookError(ServiceError):
    status_code = status.HTTP_400_BAD_REQUEST
    error_code = "INVALID_WEBHOOK"
    default_detail = "The webhook could not be verified."


class PaymentProviderNotConfigured(ServiceError):
    status_code = status.HTTP_403_FORBIDDEN
    error_code = "PAYMENT_PROVIDER_NOT_CONFIGURED"
    default_detail = "Payment provider not configured; ask an administrator to change your plan."


class PaymentDeclined(ServiceError):
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    error_code = "PAYMENT_DECLINED"
    default_detail = "The payment was declined."


@dataclass
class ChangeResult:
    status: str  # "succeeded" | "pending" (the provider's webhook settles it)
    customer_id: str = ""
    last4: str = ""
    provider_reference: str = ""


@dataclass
class WebhookEvent:
    id: str
    type: str
    reference: str
    outcome: str  # "succeeded" | "failed" | "" (not about a plan change)
    customer_id: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


class PaymentProvider:
    """Charges for paid plans. `charge` runs outside any database transaction (it is network I/O)."""

    name = "base"
    accepts_payments = True

    def __init__(self, **options: Any):
        self.options = options

    def charge(self, *, user, plan, payment_method_token: str, reference: str) -> ChangeResult:
        """Take the plan's price. Returns succeeded or pending; raises PaymentDeclined (402) when
        the processor refuses the payment and ServiceUnavailable (503) when it cannot be reached."""
        raise NotImplementedError

    def parse_webhook(self, *, body: bytes, headers) -> WebhookEvent:
        raise WebhookError("This payment provider does not accept webhooks.")


class NoPaymentProvider(PaymentProvider):
    name = "none"
    accepts_payments = False

    def charge(self, *, user, plan, payment_method_token: str, reference: str) -> ChangeResult:
        raise PaymentProviderNotConfigured()


class StripeProvider(PaymentProvider):
    """Stripe through its SDK. Options: api_key, webhook_secret, api_base (a fake server in tests),
    tolerance_seconds (webhook age), timeout (seconds per HTTP call), max_network_retries."""

    name = "stripe"
    SUCCEEDED = {"payment_intent.succeeded"}
    FAILED = {"payment_intent.payment_failed", "payment_intent.canceled"}

    def __init__(
        self,
        *,
        api_key: str = "",
        webhook_secret: str = "",
        api_base: str = "",
        tolerance_seconds: int = 300,
        timeout: float = 20.0,
        max_network_retries: int = 2,
        **options: Any,
    ):
        super().__init__(**options)
        if not api_key:
            raise ImproperlyConfigured("StripeProvider needs api_key (STRIPE_SECRET_KEY).")
        self.api_key, self.webhook_secret, self.api_base = api_key, webhook_secret, api_base
        self.tolerance_seconds, self.timeout, self.max_network_retries = tolerance_seconds, timeout, max_network_retries

    def _client(self):
        import stripe  # imported on use, like the AI backends: nothing vendor-specific at import time

        return stripe.StripeClient(
            self.api_key,
            base_addresses={"api": self.api_base} if self.api_base else None,
            max_network_retries=self.max_network_retries,
            http_client=stripe.RequestsClient(timeout=self.timeout),
        )

    def charge(self, *, user, plan, payment_method_token: str, reference: str) -> ChangeResult:
        import stripe

        params = {
            "amount": plan.price_cents,
            "currency": plan.currency.lower(),
            "payment_method": payment_method_token,
            "confirm": True,
            # No redirect-based methods: this API has no page to send the user back to.
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "description": f"{plan.name} plan",
            "metadata": {"reference": reference, "user_id": str(user.pk), "plan": plan.code},
            "expand": ["payment_method"],
        }
        try:
            # The change's reference is the idempotency key: the SDK's own retries after a lost
            # response can never charge twice.
            intent = self._client().v1.payment_intents.create(params, {"idempotency_key": reference}).to_dict()
        except stripe.CardError as exc:
            raise PaymentDeclined(_decline_message(exc.user_message or "", exc.code or "")) from None
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise ServiceUnavailable("The payment processor could not be reached; try again shortly.") from exc
        except stripe.InvalidRequestError:
            # A bad or foreign payment method id; Stripe's text can name internals, so it stays in logs.
            raise PaymentDeclined("The payment method was not accepted.") from None
        except stripe.StripeError as exc:
            raise ServiceUnavailable("The payment processor refused the request; try again later.") from exc
        method = intent.get("payment_method")
        card = method.get("card") if isinstance(method, dict) else None
        last4 = str((card or {}).get("last4") or "")
        if intent.get("status") == "succeeded":
            return ChangeResult(status="succeeded", customer_id=str(intent.get("customer") or ""), last4=last4,
                                provider_reference=intent["id"])
        if intent.get("status") == "processing":
            return ChangeResult(status="pending", last4=last4, provider_reference=intent["id"])
        # requires_action (3-D Secure) and the like need the cardholder, whom this API cannot reach.
        raise PaymentDeclined("The payment needs the cardholder's authentication; use another payment method.")

    def parse_webhook(self, *, body: bytes, headers) -> WebhookEvent:
        import stripe

        if not self.webhook_secret:
            raise WebhookError("Webhook secret is not configured.")
        try:
            event = stripe.Webhook.construct_event(
                body, headers.get("Stripe-Signature", ""), self.webhook_secret, tolerance=self.tolerance_seconds
            )
        except stripe.SignatureVerificationError:
            raise WebhookError("The webhook signature does not match or is too old.") from None
        except ValueError:
            raise WebhookError("The webhook body is not a valid event.") from None
        try:
            payload = event.to_dict()
            obj = payload["data"]["object"]
            event_type = str(payload["type"])
            return WebhookEvent(
                id=str(payload["id"]),
                type=event_type,
                reference=str((obj.get("metadata") or {}).get("reference", "")),
                outcome="succeeded" if event_type in self.SUCCEEDED else "failed" if event_type in self.FAILED else "",
                customer_id=str(obj.get("customer") or ""),
                payload=payload,
            )
        except (KeyError, TypeError, AttributeError):
            raise WebhookError("The webhook body is not a valid event.") from None


def _decline_message(user_message: str, code: str) -> str:
    # Stripe's user_message is written for cardholders ("Your card was declined."); keep its code too.
    text = user_message or "The payment was declined."
    return f"{text} ({code})" if code else text


def payment_provider() -> PaymentProvider:
    config = settings.BILLING_PAYMENT_PROVIDER
    try:
        cls = import_string(config["BACKEND"])
    except (ImportError, KeyError) as exc:
        raise ImproperlyConfigured(f"BILLING_PAYMENT_PROVIDER: {exc}") from exc
    return cls(**(config.get("OPTIONS") or {}))
