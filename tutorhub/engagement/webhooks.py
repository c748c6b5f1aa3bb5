"""Outgoing webhooks: registration, event fan-out, signed delivery with retries and a log.

Each delivery is a POST of `{"id", "event", "created_at", "data"}` with headers
`X-TutorHub-Event`, `X-TutorHub-Delivery`, `X-TutorHub-Timestamp` and
`X-TutorHub-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` - the
timestamp is signed so a captured request cannot be replayed later. A non-2xx answer or a
network error is retried with exponential backoff (WEBHOOK_RETRY_BASE_SECONDS * 2^(n-1)) up
to WEBHOOK_MAX_ATTEMPTS; every attempt's outcome is kept on the delivery row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import default_task_backend, task

from tutorhub.core.exceptions import ServiceError
from tutorhub.core.fetch import FetchError, resolve_checked, safe_request
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


def _schedule(delivery_id: str, *, at=None) -> None:
    """Queue an attempt; a future one only where the task backend can defer (else the sweep does)."""
    if at is None:
        webhook_deliver_task.enqueue(delivery_id)
    elif default_task_backend.supports_defer:
        webhook_deliver_task.using(run_after=at).enqueue(delivery_id)


def webhook_event_emit(*, user, event: str, payload: dict) -> list[WebhookDelivery]:
    """Create a delivery for every active endpoint of `user` subscribed to `event`; each is sent
    after the surrounding transaction commits."""
    deliveries = [
        WebhookDelivery.objects.create(endpoint=endpoint, event=event, payload=payload, next_attempt_at=timezone.now())
        for endpoint in WebhookEndpoint.objects.filter(owner=user, is_active=True)
        if event in endpoint.events
    ]
    for delivery in deliveries:
        transaction.on_commit(lambda d=str(delivery.id): _schedule(d))
    return deliveries


def webhook_delivery_attempt(*, delivery_id) -> WebhookDelivery | None:
    """Send one attempt; record the outcome; schedule the next attempt with backoff on failure."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return delivery
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
    delivery.attempts += 1
    try:
        response = safe_request(
            "POST", endpoint.url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE, timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            max_bytes=64 * 1024, headers=headers, content=body,
        )
        delivery.last_status_code = response.status_code
        ok = 200 <= response.status_code < 300
        delivery.last_error = "" if ok else f"HTTP {response.status_code}"
    except FetchError as exc:
        ok = False
        delivery.last_error = str(exc)
    now = timezone.now()
    if ok:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = WebhookDelivery.Status.SUCCEEDED, now, None
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
    else:
        delivery.next_attempt_at = now + timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1))
    delivery.save()
    if delivery.status == WebhookDelivery.Status.PENDING:
        _schedule(str(delivery.id), at=delivery.next_attempt_at)
    return delivery


def webhook_deliveries_retry_due(*, now=None) -> int:
    """Attempt every pending delivery whose backoff has passed (for backends that cannot defer)."""
    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .values_list("id", flat=True)[:200]
    )
    for delivery_id in due:
        webhook_deliver_task.enqueue(str(delivery_id))
    return len(due)


@task()
def webhook_deliver_task(delivery_id: str) -> str | None:
    delivery = webhook_delivery_attempt(delivery_id=delivery_id)
    return delivery.status if delivery else None
