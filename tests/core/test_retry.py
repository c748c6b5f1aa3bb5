"""tutorhub.core.retry: the backoff schedule and the claim that keeps two workers from both
sending one delivery (tested on NotificationDelivery rows; WebhookDelivery shares the columns)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.core.concurrency import run_together
from tests.factories import UserFactory
from tutorhub.core.retry import Claim, Outcome, RetryPolicy
from tutorhub.engagement.models import Notification, NotificationDelivery

POLICY = RetryPolicy(base_seconds=30, max_attempts=3)


def _pending():
    return NotificationDelivery.objects.filter(status="pending")


def _deliveries(n: int) -> list[int]:
    user = UserFactory()
    notes = Notification.objects.bulk_create(Notification(user=user, kind="x", title=f"n{i}") for i in range(n))
    return [NotificationDelivery.objects.create(notification=note, channel="email").pk for note in notes]


def test_delays_double_with_bounded_jitter():
    for attempts, full in [(1, 30), (2, 60), (3, 120), (20, 6 * 3600)]:  # the last one is capped
        delays = [POLICY.delay(attempts) for _ in range(200)]
        assert all(0.9 * full <= d <= full for d in delays)
        assert max(delays) - min(delays) > 0.01 * full  # jittered, not one fixed value
    now = timezone.now()
    assert timedelta(seconds=27) <= POLICY.next_attempt_at(1, now=now) - now <= timedelta(seconds=30)
    assert POLICY.next_attempt_at(3, now=now) is None  # attempts used up


@pytest.mark.django_db
def test_interleaved_claimers_take_a_row_once():
    """Two workers read the same due row before either writes: the compare-and-set lets one in."""
    (pk,) = _deliveries(1)
    now = timezone.now()
    seen_by_a = _pending().get(pk=pk).attempts
    seen_by_b = _pending().get(pk=pk).attempts
    assert POLICY._take(_pending(), pk, seen_by_a, now) == Claim(pk, 1)
    assert POLICY._take(_pending(), pk, seen_by_b, now) is None
    assert POLICY.claim(_pending(), pk) is None  # leased: not due until the lease runs out
    row = NotificationDelivery.objects.get(pk=pk)
    assert row.attempts == 1 and row.next_attempt_at > now + timedelta(minutes=9)


@pytest.mark.django_db
def test_a_lost_lease_is_handed_out_again_and_the_old_holder_is_shut_out():
    (pk,) = _deliveries(1)
    first = POLICY.claim(_pending(), pk)
    later = timezone.now() + POLICY.lease + timedelta(seconds=1)
    (second,) = POLICY.claim_due(_pending(), now=later)
    assert second == Claim(pk, 2)
    assert not POLICY.holds(_pending(), first) and POLICY.holds(_pending(), second)
    sent = []
    status = POLICY.attempt(
        _pending(), pk, token=first.attempt, send=lambda row: sent.append(row) or Outcome(),
        delivered=lambda now: {"status": "sent", "sent_at": now}, retry=lambda at: None,
    )
    assert status is None and not sent  # the stale holder sends nothing
    assert NotificationDelivery.objects.get(pk=pk).status == "pending"


@pytest.mark.django_db
def test_outcomes_backoff_and_abandoned_last_attempts():
    a, b, c = _deliveries(3)
    retries = []

    def run(pk, outcome):
        return POLICY.attempt(
            _pending(), pk, send=lambda row: outcome,
            delivered=lambda now: {"status": "sent", "sent_at": now}, retry=retries.append,
        )

    assert run(a, Outcome()) == "sent"
    assert run(b, Outcome(error="HTTP 503")) == "pending" and len(retries) == 1
    row = NotificationDelivery.objects.get(pk=b)
    assert row.attempts == 1 and row.last_error == "HTTP 503" and row.next_attempt_at == retries[0]
    assert run(c, Outcome(error="no such chat", permanent=True)) == "failed" and len(retries) == 1
    # b's last allowed attempt is claimed and its worker dies: the sweep retires it once the lease is gone.
    NotificationDelivery.objects.filter(pk=b).update(attempts=POLICY.max_attempts - 1, next_attempt_at=timezone.now())
    assert POLICY.claim(_pending(), b).attempt == POLICY.max_attempts
    assert POLICY.retire_abandoned(_pending()) == 0  # still leased
    assert POLICY.retire_abandoned(_pending(), now=timezone.now() + POLICY.lease + timedelta(seconds=1)) == 1
    row = NotificationDelivery.objects.get(pk=b)
    assert row.status == "failed" and row.next_attempt_at is None and "did not report back" in row.last_error


@pytest.mark.django_db(transaction=True)
def test_two_claimers_split_the_due_rows():
    """Two sweeps claim at the same moment (row locks with SKIP LOCKED on PostgreSQL, compare-and-set
    on SQLite): every due row is claimed exactly once."""
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memorydb"):
        pytest.skip("needs a file or server database")
    ids = _deliveries(60)

    def sweep(_: int) -> list:
        # several rounds, so the claimers really interleave
        return [c.pk for _round in range(3) for c in POLICY.claim_due(_pending(), limit=25)]

    claimed = run_together(sweep, 2)
    assert not set(claimed[0]) & set(claimed[1])
    assert sorted(claimed[0] + claimed[1]) == sorted(ids)
    assert set(NotificationDelivery.objects.values_list("attempts", flat=True)) == {1}


def test_process_backoff_and_delivery_retries_share_one_formula():
    from tutorhub.core.backoff import Backoff

    backoff = Backoff(initial=1.0, maximum=5.0)
    assert [backoff.failed() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.failed() == 1.0
    no_jitter = RetryPolicy(base_seconds=1.0, max_attempts=9, max_delay_seconds=5.0, jitter=0.0)
    assert [no_jitter.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


@pytest.mark.django_db
def test_a_row_deleted_after_its_claim_is_not_sent():
    (pk,) = _deliveries(1)
    claim = POLICY.claim(_pending(), pk)
    NotificationDelivery.objects.filter(pk=pk).delete()
    sent = []
    status = POLICY.attempt(
        _pending(), pk, token=claim.attempt, send=sent.append,
        delivered=lambda now: {"status": "sent", "sent_at": now}, retry=lambda at: None,
    )
    assert status is None and not sent
