"""One retry discipline for every outbound delivery (notifications on email/Telegram/SMS, webhooks).

A delivery row carries `attempts` and `next_attempt_at` (`RetryState`). Before sending, a worker
*claims* the row: one conditional UPDATE counts the attempt and moves `next_attempt_at` a lease
into the future. Only one of two workers (or a worker and the sweep) that reach the same row
wins that UPDATE, so a delivery is sent once; a worker that dies mid-send simply lets its lease
run out and the sweep hands the row out again. The attempt number is the claim's token: the
outcome is written only where `attempts` still equals it, so a holder whose lease expired and
was re-claimed cannot overwrite the newer attempt's result.

Batches (the sweep) are claimed with `SELECT ... FOR UPDATE SKIP LOCKED` where the database has
it (PostgreSQL), so concurrent sweepers take disjoint rows without waiting on each other; SQLite
has no row locks, and there the same compare-and-set UPDATE per row decides (SQLite runs one
writer at a time, so the UPDATE's WHERE is evaluated atomically).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import models, router, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from tutorhub.core.backoff import exponential_delay, jittered

logger = logging.getLogger(__name__)

# Longer than one send can take (webhook and provider timeouts are seconds) plus a queue's wait
# for a free worker; shorter than a retry gap would be noticeable. A claimed row is not handed
# out again before this passes.
DEFAULT_LEASE = timedelta(minutes=10)
PENDING, FAILED = "pending", "failed"


class RetryState(models.Model):
    """The columns the retry helper reads and writes; a delivery model inherits them. The model
    adds its own `status` field whose choices include PENDING and FAILED (its success value is
    its own: notifications are "sent", webhooks "succeeded")."""

    attempts = models.PositiveSmallIntegerField(default=0)
    # Due at once on creation; a lease or a backoff moves it on; None once nothing is left to send.
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now, db_index=True)
    last_error = models.TextField(blank=True)

    class Meta:
        abstract = True


@dataclass(frozen=True)
class Claim:
    pk: Any
    attempt: int  # the row's `attempts` after the claim: the token the outcome is written with


@dataclass
class Outcome:
    """What one send did. An empty `error` means delivered; `fields` are stored either way."""

    error: str = ""
    permanent: bool = False
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: the n-th failure waits base * factor^(n-1) seconds (capped),
    shortened by up to `jitter` of itself so deliveries that failed together do not all come back
    in the same second; after `max_attempts` attempts the row fails for good."""

    base_seconds: float
    max_attempts: int
    factor: float = 2.0
    max_delay_seconds: float = 6 * 3600
    jitter: float = 0.1
    lease: timedelta = DEFAULT_LEASE

    def delay(self, attempts: int) -> float:
        raw = exponential_delay(attempts, base=self.base_seconds, maximum=self.max_delay_seconds, factor=self.factor)
        return jittered(raw, self.jitter)

    def next_attempt_at(self, attempts: int, *, now: datetime) -> datetime | None:
        """When to try again after `attempts` failed attempts; None when they are used up."""
        if attempts >= self.max_attempts:
            return None
        return now + timedelta(seconds=self.delay(attempts))

    # --- claiming ---------------------------------------------------------------------------

    def _claimable(self, pending: QuerySet, now: datetime) -> QuerySet:
        return pending.filter(next_attempt_at__lte=now, attempts__lt=self.max_attempts)

    def _take(self, pending: QuerySet, pk: Any, attempts: int, now: datetime) -> Claim | None:
        # Compare-and-set on the attempt count: of two workers that read the same row, one updates it.
        taken = self._claimable(pending, now).filter(pk=pk, attempts=attempts).update(
            attempts=attempts + 1, next_attempt_at=now + self.lease, **_touch(pending.model, now)
        )
        return Claim(pk, attempts + 1) if taken else None

    def claim(self, pending: QuerySet, pk: Any, *, now: datetime | None = None) -> Claim | None:
        """Claim the row `pk` if it is due; None when it is not (sent, failed, held by another worker,
        or waiting out its backoff)."""
        now = now or timezone.now()
        attempts = self._claimable(pending, now).filter(pk=pk).values_list("attempts", flat=True).first()
        return None if attempts is None else self._take(pending, pk, attempts, now)

    def holds(self, pending: QuerySet, claim: Claim, *, now: datetime | None = None) -> bool:
        """Whether `claim` (handed over by the sweep) is still the row's live claim."""
        now = now or timezone.now()
        return pending.filter(pk=claim.pk, attempts=claim.attempt, next_attempt_at__gt=now).exists()

    def claim_due(self, pending: QuerySet, *, now: datetime | None = None, limit: int = 200) -> list[Claim]:
        """Claim up to `limit` due rows, oldest first. Concurrent callers get disjoint rows."""
        now = now or timezone.now()
        due = self._claimable(pending, now).order_by("next_attempt_at")
        db = router.db_for_write(pending.model)
        if transaction.get_connection(db).features.has_select_for_update_skip_locked:
            with transaction.atomic(using=db):
                rows = list(due.select_related(None).select_for_update(skip_locked=True).values_list("pk", "attempts")[:limit])
                pending.filter(pk__in=[pk for pk, _ in rows]).update(
                    attempts=F("attempts") + 1, next_attempt_at=now + self.lease, **_touch(pending.model, now)
                )
            return [Claim(pk, attempts + 1) for pk, attempts in rows]
        rows = list(due.values_list("pk", "attempts")[:limit])
        return [claim for pk, attempts in rows if (claim := self._take(pending, pk, attempts, now))]

    def retire_abandoned(self, pending: QuerySet, *, now: datetime | None = None) -> int:
        """Fail rows whose last allowed attempt never reported back (its worker died): nothing will
        claim them again, and the delivery log should say so rather than show 'pending' forever."""
        now = now or timezone.now()
        return pending.filter(next_attempt_at__lte=now, attempts__gte=self.max_attempts).update(
            status=FAILED, next_attempt_at=None, last_error="the last attempt did not report back", **_touch(pending.model, now)
        )

    def sweep(self, pending: QuerySet, enqueue: Callable[[Claim], None], *, now: datetime | None = None) -> int:
        """Retire abandoned rows, claim the due ones and `enqueue` an attempt for each claim;
        returns how many were claimed (the periodic sweep of every delivery model)."""
        self.retire_abandoned(pending, now=now)
        claims = self.claim_due(pending, now=now)
        for claim in claims:
            enqueue(claim)
        return len(claims)

    # --- one attempt ------------------------------------------------------------------------

    def attempt(
        self,
        pending: QuerySet,
        pk: Any,
        *,
        send: Callable[[Any], Outcome],
        delivered: Callable[[datetime], dict[str, Any]],
        retry: Callable[[datetime], None],
        token: int | None = None,
    ) -> str | None:
        """Claim `pk` (or check the sweep's claim `token`), `send` the row, store the outcome.

        `delivered(now)` gives the columns of a success (its status and timestamp); `retry(at)`
        queues the next attempt when the failure is transient and attempts are left. Returns the
        status written, or None when this worker did not hold the row (nothing was sent).
        """
        claim = self.claim(pending, pk) if token is None else Claim(pk, token)
        if claim is None or (token is not None and not self.holds(pending, claim)):
            return None
        row = pending.filter(pk=pk).first()
        if row is None:  # deleted since the claim (its endpoint or notification went): nothing to send
            return None
        outcome = send(row)
        now = timezone.now()
        if not outcome.error:
            values = {**delivered(now), "next_attempt_at": None, "last_error": ""}
        else:
            next_at = None if outcome.permanent else self.next_attempt_at(claim.attempt, now=now)
            values = {"status": PENDING if next_at else FAILED, "next_attempt_at": next_at, "last_error": outcome.error}
        values.update(outcome.fields)
        if not pending.filter(pk=pk, attempts=claim.attempt).update(**values, **_touch(pending.model, now)):
            logger.warning("%s %s: attempt %s finished after its lease was taken over; outcome dropped",
                           pending.model.__name__, pk, claim.attempt)
            return None
        if values.get("next_attempt_at"):
            retry(values["next_attempt_at"])
        return values["status"]


def enqueue_at(task, *args: Any, at: datetime) -> None:
    """Queue `task(*args)` to run at `at`: now when it is due, deferred where the task backend can
    defer; otherwise the periodic sweep picks the row up once it is due."""
    if at <= timezone.now():
        task.enqueue(*args)
    elif task.get_backend().supports_defer:
        task.using(run_after=at).enqueue(*args)


def _touch(model: type[models.Model], now: datetime) -> dict[str, datetime]:
    # QuerySet.update() skips auto_now; keep updated_at honest on models that have it.
    return {"updated_at": now} if any(f.name == "updated_at" for f in model._meta.concrete_fields) else {}
