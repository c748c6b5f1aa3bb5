"""Scheduling maths: SM-2 and FSRS intervals over a sequence of reviews."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tutorhub.assessments.schedulers import QUALITY_TO_FSRS_RATING, SM2Scheduler, review_all

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def run(qualities, scheduler="sm2", review_on_due=True):
    states, now, log = {}, T0, []
    for q in qualities:
        outcomes = review_all(states, quality=q, reviewed_at=now)
        states = {name: o.state for name, o in outcomes.items()}
        chosen = outcomes[scheduler]
        log.append(chosen)
        now = chosen.due if review_on_due else now + timedelta(days=1)
    return log, states


def test_sm2_intervals_follow_the_published_algorithm():
    log, states = run([5, 5, 5, 5])
    # 1 day, 6 days, then previous interval x the ease held before this review (the ease rises by
    # 0.1 per perfect answer: 2.6, 2.7, 2.8, 2.9 - Wozniak's order: interval first, then ease).
    assert [o.interval_days for o in log] == [1, 6, round(6 * 2.7), round(round(6 * 2.7) * 2.8)]
    assert states["sm2"]["ease_factor"] == pytest.approx(2.9)


def test_sm2_ease_updates_and_lapse_restarts_repetitions():
    log, states = run([4, 4, 3, 1, 4])
    # q=4 keeps ease; q=3 lowers it by 0.14 (after its interval 6 x 2.5); q=1 lowers by 0.54, restarts at 1 day
    assert [o.interval_days for o in log] == [1, 6, 15, 1, 1]
    assert states["sm2"]["ease_factor"] == pytest.approx(2.5 - 0.14 - 0.54)
    assert states["sm2"]["repetitions"] == 1


def test_sm2_ease_never_below_floor():
    _, states = run([0] * 10)
    assert states["sm2"]["ease_factor"] == SM2Scheduler.minimum_ease


def test_fsrs_learning_steps_then_growing_intervals():
    log, states = run([4, 4, 4, 4], scheduler="fsrs")
    # New card rated Good: second learning step (10 minutes), then graduates to days.
    assert log[0].interval_days == pytest.approx(10 / 1440, abs=1e-3)
    days = [o.interval_days for o in log[1:]]
    assert days == sorted(days) and days[0] >= 1 and days[-1] > 20
    assert states["fsrs"]["state"] == 2  # Review
    assert states["fsrs"]["stability"] > 20


def test_fsrs_lapse_drops_interval_and_stability():
    log, states = run([4, 4, 4, 4, 1], scheduler="fsrs")
    assert log[-1].interval_days < 1  # relearning step
    assert states["fsrs"]["state"] == 3  # Relearning
    _, before = run([4, 4, 4, 4], scheduler="fsrs")
    assert states["fsrs"]["stability"] < before["fsrs"]["stability"]


def test_fsrs_easy_beats_hard():
    easy, _ = run([5, 5, 5], scheduler="fsrs")
    hard, _ = run([3, 3, 3], scheduler="fsrs")
    assert easy[-1].interval_days > hard[-1].interval_days


def test_fsrs_is_deterministic():
    a, _ = run([4, 3, 4, 5], scheduler="fsrs")
    b, _ = run([4, 3, 4, 5], scheduler="fsrs")
    assert [o.due for o in a] == [o.due for o in b]


def test_quality_mapping_is_total_and_follows_sm2_pass_line():
    assert set(QUALITY_TO_FSRS_RATING) == set(range(6))
    assert [int(QUALITY_TO_FSRS_RATING[q]) for q in range(6)] == [1, 1, 1, 2, 3, 4]


def test_quality_out_of_range_rejected():
    with pytest.raises(ValueError):
        review_all({}, quality=6, reviewed_at=T0)
