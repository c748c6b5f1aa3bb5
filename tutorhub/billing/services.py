"""Usage metering, quotas and subscriptions. Every AI call and upload records usage here (one place).

Quota protocol (callers: chat, knowledge, assessments, reports):
    quota_check(user=u, kind="ai_tokens", amount=estimate)   # before the work; raises QuotaExceeded
    ... do the work ...
    usage_record(user=u, kind="ai_tokens", amount=actual)    # after (tutorhub.ai does it for LLM calls)

quota_check decides under a row lock on the user's (kind, period) row and leaves a reservation
for `amount`, so concurrent requests at the limit see each other's promised usage: together they
can pass the limit by at most one request's estimate error, never by whole requests. The matching
usage_record in the same request (same context) turns the reservation into recorded usage; a
request that dies without recording lets its reservation expire (BILLING_QUOTA_RESERVATION_SECONDS).
"""

from __future__ import annotations

import contextvars
import re
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework import status

from tutorhub.ai import Completion, UsageRecorder, usage_scope
from tutorhub.ai.base import estimate_message_tokens
from tutorhub.billing.models import (
    ProviderEvent,
    QuotaReservation,
    Subscription,
    SubscriptionChange,
    UsageRecord,
)
from tutorhub.billing.selectors import EPOCH, plan_get, plan_in_force, subscription_current
from tutorhub.core.exceptions import Conflict, ServiceError

# Storage is a standing total: it is compared with the limit over all time, not per period.
STANDING_KINDS = {"storage_bytes"}
_reservations: contextvars.ContextVar[tuple[tuple[int, str, int], ...]] = contextvars.ContextVar(
    "billing_quota_reservations", default=()
)


class QuotaExceeded(ServiceError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    error_code = "QUOTA_EXCEEDED"
    default_detail = "Usage quota exceeded."

    def __init__(self, *, kind: str, limit: int, used: int, requested: int, resets_at: datetime | None):
        self.kind, self.limit, self.used, self.requested, self.resets_at = kind, limit, used, requested, resets_at
        label = kind.replace("_", " ")
        super().__init__(
            {
                "detail": f"Your plan's {label} limit ({limit}) would be exceeded; upgrade your plan"
                + (f" or wait until {resets_at:%Y-%m-%d}." if resets_at else "."),
                "kind": kind,
                "limit": limit,
                "used": used,
                "requested": requested,
                "resets_at": resets_at.isoformat() if resets_at else "",
            }
        )


def _quota_lock_key(user, kind: str) -> int:
    """PostgreSQL advisory-lock key of one user's quota of one kind (64-bit)."""
    kinds = [k for k, _ in UsageRecord.Kind.choices]
    return user.pk * 8 + (kinds.index(kind) + 1 if kind in kinds else 0)


# --- usage and quotas ----------------------------------------------------------------------
def ai_tokens_check(*, user, amount: int, backend) -> QuotaReservation | None:
    """quota_check for a call to the LLM `backend`. An offline backend costs nothing, so it
    reserves nothing and is never refused (its usage is still recorded, as not billable)."""
    if not getattr(backend, "billable", True):
        return None
    return quota_check(user=user, kind="ai_tokens", amount=amount)


@contextmanager
def ai_spend_scope(*, user, feature: str, messages: list, max_output_tokens: int, backend):
    """A paid model call made for `user`: check their AI-token quota for the prompt's estimate
    plus `max_output_tokens` (raises QuotaExceeded before anything is sent), then attribute every
    AI call inside the block to `feature`, whose recorded usage settles the reservation."""
    ai_tokens_check(user=user, amount=estimate_message_tokens(messages) + max_output_tokens, backend=backend)
    with usage_scope(user=user, feature=feature):
        yield


def _committed_sql(*, user, kind: str, start: datetime, end: datetime | None, now: datetime) -> tuple[str, list]:
    """Recorded billable usage plus live reservations as ONE expression: under READ COMMITTED
    two statements could straddle a usage_record that turns a reservation into a record, and
    see neither (the lock is held by checks only, so recording never waits).

    Plain SQL because it runs before every AI call: composing these two subqueries through
    the ORM cost ~1.3 ms of CPU per call, more than the rest of the check (the chat's time
    to first token waits for it; benchmarks/chat_stream.py)."""
    adapt = connection.ops.adapt_datetimefield_value
    window = " AND created_at < %s" if end is not None else ""
    sql = (
        f"(SELECT COALESCE(SUM(amount), 0) FROM {UsageRecord._meta.db_table}"
        f" WHERE user_id = %s AND kind = %s AND billable AND created_at >= %s{window})"
        f" + (SELECT COALESCE(SUM(amount), 0) FROM {QuotaReservation._meta.db_table}"
        " WHERE user_id = %s AND kind = %s AND expires_at > %s)"
    )
    return sql, [user.pk, kind, adapt(start), *([adapt(end)] if end is not None else []), user.pk, kind, adapt(now)]


def _committed_total(*, user, kind: str, start: datetime, end: datetime | None, now: datetime) -> int:
    sql, params = _committed_sql(user=user, kind=kind, start=start, end=end, now=now)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", params)
        return int(cursor.fetchone()[0])


def _reserve(*, user, kind: str, amount: int, limit: int, start: datetime, end: datetime | None,
             now: datetime) -> QuotaReservation | None:
    """Insert the reservation only if it fits under `limit`, in one statement (the check and
    the insert used to be two trips); None when it does not fit."""
    committed, params = _committed_sql(user=user, kind=kind, start=start, end=end, now=now)
    adapt = connection.ops.adapt_datetimefield_value
    expires_at = now + timedelta(seconds=settings.BILLING_QUOTA_RESERVATION_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {QuotaReservation._meta.db_table} (user_id, kind, amount, created_at, expires_at)"
            f" SELECT %s, %s, %s, %s, %s WHERE {committed} + %s <= %s RETURNING id",
            [user.pk, kind, amount, adapt(now), adapt(expires_at), *params, amount, limit],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return QuotaReservation(pk=row[0], user=user, kind=kind, amount=amount, created_at=now, expires_at=expires_at)


def quota_check(*, user, kind: str, amount: int = 1) -> QuotaReservation | None:
    """Raise QuotaExceeded (429, error_code QUOTA_EXCEEDED) if `amount` more of `kind` would pass
    the user's plan limit for the current period; otherwise reserve `amount` until this request
    records its usage. Returns the reservation (None when nothing is metered or unlimited)."""
    if user is None or not getattr(user, "pk", None) or amount <= 0:
        return None
    now = timezone.now()
    # Two statements (PostgreSQL) or two under the write lock (SQLite, whose transactions are
    # IMMEDIATE (settings), so this one holds the database's single write lock throughout):
    # the plan (which on PostgreSQL also takes this user's quota lock), then the reservation
    # inserted only if it fits. A refusal reads the total once more for its message.
    with transaction.atomic():
        plan, start, end = plan_in_force(user=user, now=now, lock_key=_quota_lock_key(user, kind))
        limit = plan.limit_for(kind)
        if limit is None:
            return None
        standing = kind in STANDING_KINDS
        since, until = (EPOCH, None) if standing else (start, end)
        reservation = _reserve(user=user, kind=kind, amount=amount, limit=limit, start=since, end=until, now=now)
        if reservation is None:
            used = _committed_total(user=user, kind=kind, start=since, end=until, now=now)
            raise QuotaExceeded(kind=kind, limit=limit, used=used, requested=amount, resets_at=None if standing else end)
    # Worker threads outlive requests and keep their context: hold only the latest few entries.
    _reservations.set((*_reservations.get()[-15:], (user.pk, kind, reservation.pk)))
    return reservation


def quota_release(*, reservation: QuotaReservation | None) -> None:
    """Give back a reservation whose work was abandoned (optional: reservations also expire)."""
    if reservation is None:
        return
    QuotaReservation.objects.filter(pk=reservation.pk).delete()
    _reservations.set(tuple(r for r in _reservations.get() if r[2] != reservation.pk))


def quota_release_pending(*, user, kind: str) -> bool:
    """Give back this request's newest reservation for (user, kind) at once: its work failed
    and recorded nothing, and holding it until it expires would count a failed call against
    the plan for minutes. Returns whether one was released."""
    if user is None or not getattr(user, "pk", None):
        return False
    pending = list(_reservations.get())
    released = False
    for entry in reversed([r for r in pending if r[0] == user.pk and r[1] == kind]):
        pending.remove(entry)
        if QuotaReservation.objects.filter(pk=entry[2], user=user, kind=kind).delete()[0]:
            released = True
            break
    _reservations.set(tuple(pending))
    return released


def usage_record(
    *,
    user,
    kind: str,
    amount: int,
    feature: str = "",
    model: str = "",
    latency_ms: int | None = None,
    metadata: dict | None = None,
    settle: bool = True,
    billable: bool = True,
) -> UsageRecord | None:
    """Store one metered event and (`settle`) settle this request's reservation for the same
    kind. Anonymous/system work (user None) is not metered; `billable=False` work (offline AI)
    is recorded but never counts against the plan."""
    if user is None or not getattr(user, "pk", None):
        return None
    with transaction.atomic():
        record = UsageRecord.objects.create(
            user=user,
            kind=kind,
            amount=int(amount),
            feature=feature,
            model=model,
            latency_ms=latency_ms,
            metadata=metadata or {},
            billable=billable,
        )
        if settle:
            # Newest first: an entry left by an earlier request on this thread is stale and skipped.
            quota_release_pending(user=user, kind=kind)
    return record


class AiUsageRecorder(UsageRecorder):
    """The AI calls' usage ledger: tutorhub.ai records through this (registered by BillingConfig.ready)."""

    def record(self, *, user, feature: str, completion: Completion) -> None:
        usage_record(
            user=user,
            kind="ai_tokens",
            amount=completion.total_tokens,
            feature=feature,
            model=completion.model,
            latency_ms=completion.latency_ms,
            settle=completion.settles_reservation,
            billable=completion.billable,
        )

    def release(self, *, user) -> None:
        quota_release_pending(user=user, kind="ai_tokens")


# --- subscriptions -------------------------------------------------------------------------
TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-]{4,100}$")


@transaction.atomic
def _subscription_apply(*, change: SubscriptionChange, customer_id: str = "", last4: str = "") -> None:
    """Put the user on the change's plan, once: the charge's answer and the provider's webhook
    may both report the same payment, and whichever locks the change first applies it."""
    now = timezone.now()
    locked = SubscriptionChange.objects.select_for_update().get(pk=change.pk)
    if locked.status != SubscriptionChange.Status.PENDING:
        change.status = locked.status
        return
    sub = Subscription.objects.select_for_update().filter(user=change.user).first()
    if sub is None:
        sub = Subscription(user=change.user)
    keep_period = sub.pk and sub.plan_id and sub.plan.interval == change.to_plan.interval and sub.status == Subscription.Status.ACTIVE
    sub.plan = change.to_plan
    sub.status = Subscription.Status.ACTIVE
    sub.provider = change.provider
    if not keep_period:  # a new paid period starts when the interval changes
        sub.current_period_start = now
    sub.provider_customer_id = customer_id or sub.provider_customer_id
    sub.payment_method_last4 = last4 or sub.payment_method_last4
    sub.save()
    change.status = SubscriptionChange.Status.SUCCEEDED
    change.save(update_fields=["status", "updated_at"])


def subscription_upgrade(*, user, plan_id: str, payment_method_token: str = "") -> SubscriptionChange:
    """Change the user's plan; a paid plan is charged through the configured payment provider.

    Returns the SubscriptionChange: succeeded (applied now) or pending (the provider's signed
    webhook settles it). Raises ValidationError for an unknown plan or a missing/malformed
    payment token on a paid plan, Conflict if already on that plan,
    PaymentProviderNotConfigured (403) for a paid plan when no provider is configured (an
    administrator sets such plans), PaymentDeclined (402) when the payment is refused, with the
    plan unchanged and the change recorded as failed.
    """
    from tutorhub.billing.providers import PaymentDeclined, PaymentProviderNotConfigured, payment_provider

    plan = plan_get(plan_id=plan_id)
    sub, current, _, _ = subscription_current(user=user)
    if current.pk == plan.pk and sub is not None and sub.status == Subscription.Status.ACTIVE:
        raise Conflict("You are already on this plan.")
    provider = payment_provider()
    if plan.price_cents and not provider.accepts_payments:
        raise PaymentProviderNotConfigured()
    if plan.price_cents and not TOKEN_RE.match(payment_method_token or ""):
        raise ValidationError({"payment_method_token": ["A valid payment method token is required for a paid plan."]})
    change = SubscriptionChange.objects.create(
        user=user,
        from_plan=current,
        to_plan=plan,
        provider=provider.name,
        reference=f"chg_{uuid.uuid4().hex}",
        amount_cents=plan.price_cents,
        currency=plan.currency,
    )
    if not plan.price_cents:  # nothing to charge (a move to a free plan)
        _subscription_apply(change=change)
        return change
    # The charge is network I/O, so it runs with the change committed as pending and no
    # transaction open: a crash after Stripe took the money leaves a pending change that the
    # payment_intent.succeeded webhook still applies.
    try:
        result = provider.charge(user=user, plan=plan, payment_method_token=payment_method_token, reference=change.reference)
    except PaymentDeclined:
        change.status = SubscriptionChange.Status.FAILED
        change.save(update_fields=["status", "updated_at"])
        raise
    if result.status == SubscriptionChange.Status.SUCCEEDED:
        _subscription_apply(change=change, customer_id=result.customer_id, last4=result.last4)
    return change


def provider_webhook_handle(*, provider_name: str, body: bytes, headers) -> dict:
    """Verify and apply a payment provider's webhook once. Raises WebhookError (400) if the
    signature or payload is bad; unknown references and repeated events are acknowledged."""
    from tutorhub.billing.providers import WebhookError, payment_provider

    provider = payment_provider()
    if provider.name != provider_name:
        raise WebhookError("This payment provider is not configured.")
    event = provider.parse_webhook(body=body, headers=headers)
    with transaction.atomic():
        try:
            with transaction.atomic():
                ProviderEvent.objects.create(provider=provider.name, event_id=event.id, event_type=event.type, payload=event.payload)
        except IntegrityError:
            return {"received": True, "duplicate": True}
        change = SubscriptionChange.objects.select_for_update().filter(reference=event.reference, provider=provider.name).first()
        if change is None or change.status != SubscriptionChange.Status.PENDING:
            return {"received": True, "applied": False}
        if event.outcome == SubscriptionChange.Status.SUCCEEDED:
            _subscription_apply(change=change, customer_id=event.customer_id)
        elif event.outcome == SubscriptionChange.Status.FAILED:
            change.status = SubscriptionChange.Status.FAILED
            change.save(update_fields=["status", "updated_at"])
        else:
            return {"received": True, "applied": False}
    return {"received": True, "applied": True, "status": change.status}


def quota_reservations_purge() -> int:
    """Delete reservations past their expiry (they no longer count; this only keeps the table small)."""
    deleted, _ = QuotaReservation.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
