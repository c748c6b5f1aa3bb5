"""Outgoing webhooks: registration, event fan-out, signed delivery with retries and a log.

Each delivery is a POST of `{"id", "event", "created_at", "data"}` with headers
`X-TutorHub-Event`, `X-TutorHub-Delivery`, `X-TutorHub-Timestamp` and
`X-TutorHub-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` - the
timestamp is signed so a captured request cannot be replayed later. A non-2xx answer or a
network error is retried by tutorhub.core.retry (exponential backoff with jitter from
WEBHOOK_RETRY_BASE_SECONDS, up to WEBHOOK_MAX_ATTEMPTS; a delivery is claimed before it is sent,
so two workers never both send it); every attempt's outcome is kept on the delivery row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tutorhub.core.exceptions import ServiceError
from tutorhub.core.fetch import FetchError, resolve_checked, safe_request
from tutorhub.core.retry import Outcome, RetryPolicy, enqueue_at
from tutorhub.engagement.models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

WEBHOOK_EVENTS = ("document.processing.completed", "document.processing.failed")
MAX_ENDPOINTS_PER_USER = 20


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@transaction.atomic
def webhook_endpoint_register(*, user, url: str, events: list[str], secret: str = "") -> WebhookEndpoint:
    """Register `url` for `events`. A missing secret is generated (returned once by the view).
    Raises ServiceError for unknown events or a refused (private) address."""
    unknown = sorted(set(events) - set(WEBHOOK_EVENTS))
    if not events or unknown:
        raise ServiceError(
            f"Unknown events: {', '.join(unknown)}. Choose from: {', '.join(WEBHOOK_EVENTS)}." if unknown
            else "Give at least one event.",
            error_code="VALIDATION_ERROR",
        )
    try:
        resolve_checked(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE)
    except FetchError as exc:
        raise ServiceError(str(exc), error_code="URL_NOT_ALLOWED") from None
    if WebhookEndpoint.objects.filter(owner=user).count() >= MAX_ENDPOINTS_PER_USER:
        raise ServiceError(f"At most {MAX_ENDPOINTS_PER_USER} webhooks per user.", error_code="LIMIT_REACHED")
    return WebhookEndpoint.objects.create(
        owner=user, url=url, events=sorted(set(events)), secret=secret or secrets.token_urlsafe(32)
    )


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def _policy() -> RetryPolicy:
    # Built per call so settings overrides (and a changed environment in tests) take effect.
    return RetryPolicy(base_seconds=settings.WEBHOOK_RETRY_BASE_SECONDS, max_attempts=settings.WEBHOOK_MAX_ATTEMPTS)


def _pending():
    return WebhookDelivery.objects.select_related("endpoint").filter(status=WebhookDelivery.Status.PENDING)


def webhook_event_emit(*, user, event: str, payload: dict) -> list[WebhookDelivery]:
    """Create a delivery for every active endpoint of `user` subscribed to `event`; each is sent
    after the surrounding transaction commits."""
    deliveries = [
        WebhookDelivery.objects.create(endpoint=endpoint, event=event, payload=payload)
        for endpoint in WebhookEndpoint.objects.filter(owner=user, is_active=True)
        if event in endpoint.events
    ]
    for delivery in deliveries:
        transaction.on_commit(lambda d=str(delivery.id): _deliver_task().enqueue(d))
    return deliveries


def _send(delivery: WebhookDelivery) -> Outcome:
    endpoint = delivery.endpoint
    body = json.dumps(
        {"id": str(delivery.id), "event": delivery.event, "created_at": delivery.created_at.isoformat(), "data": delivery.payload},
        separators=(",", ":"),
    ).encode()
    timestamp = str(int(timezone.now().timestamp()))
    headers = {
        "Content-Type": "application/json",
        "X-TutorHub-Event": delivery.event,
        "X-TutorHub-Delivery": str(delivery.id),
        "X-TutorHub-Timestamp": timestamp,
        "X-TutorHub-Signature": sign(endpoint.secret, timestamp, body),
    }
    try:
        response = safe_request(
            "POST", endpoint.url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE, timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            max_bytes=64 * 1024, headers=headers, content=body,
        )
    except FetchError as exc:
        return Outcome(error=str(exc))
    ok = 200 <= response.status_code < 300
    return Outcome(error="" if ok else f"HTTP {response.status_code}", fields={"last_status_code": response.status_code})


def webhook_delivery_attempt(*, delivery_id, attempt: int | None = None) -> str | None:
    """Send one attempt if this worker wins the delivery's claim (`attempt`: the sweep's claim
    token); record the outcome and queue the next attempt with backoff on failure. Returns the
    status written, or None when another worker holds the delivery or it is not due."""
    return _policy().attempt(
        _pending(), delivery_id, token=attempt, send=_send,
        delivered=lambda now: {"status": WebhookDelivery.Status.SUCCEEDED, "delivered_at": now},
        retry=lambda at: enqueue_at(_deliver_task(), str(delivery_id), at=at),
    )


def webhook_deliveries_retry_due(*, now=None) -> int:
    """Claim every pending delivery whose backoff has passed (or whose worker's lease ran out) and
    queue an attempt for each; returns how many were claimed."""
    return _policy().sweep(_pending(), lambda claim: _deliver_task().enqueue(str(claim.pk), claim.attempt), now=now)


def _deliver_task():
    # engagement.tasks imports this module's services, so the task is looked up when it is used.
    from tutorhub.engagement.tasks import webhook_deliver_task

    return webhook_deliver_task
