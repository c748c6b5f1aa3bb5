"""Scheduling maths: SM-2 and FSRS intervals over a sequence of reviews."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tutorhub.assessments.schedulers import QUALITY_TO_FSRS_RATING, SCHEDULERS, SM2Scheduler, review_all

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


# --- Interval cap (issue 12): unbounded SM-2 intervals overflowed dates on the 17th passing review ---


@pytest.mark.parametrize("scheduler", ["sm2", "fsrs"])
def test_a_thousand_passing_reviews_never_fail_and_stay_within_the_cap(scheduler, settings):
    settings.FLASHCARD_MAX_INTERVAL_DAYS = 36_500
    log, _ = run([5] * 1000, scheduler=scheduler, review_on_due=False)
    assert len(log) == 1000
    assert max(o.interval_days for o in log) <= 36_500
    if scheduler == "sm2":
        # Reached, not merely never approached: SM-2 ignores the actual gap, so it hits the cap
        # after ~16 reviews (FSRS grows slowly with daily reviews; test_cap_comes_from_the_setting).
        assert log[-1].interval_days == 36_500


def test_reviews_on_the_due_date_reach_the_default_cap_without_overflow(settings):
    settings.FLASHCARD_MAX_INTERVAL_DAYS = 36_500
    # 60 reviews each on its due date: SM-2's 17th used to overflow; capped, the last due date is
    # still < year 9999 (about 45 x 100 years past 2026).
    for scheduler in ("sm2", "fsrs"):
        log, _ = run([5] * 60, scheduler=scheduler, review_on_due=True)
        assert log[-1].interval_days == pytest.approx(36_500, abs=0.01)


@pytest.mark.parametrize("scheduler", ["sm2", "fsrs"])
def test_cap_comes_from_the_setting(scheduler, settings):
    settings.FLASHCARD_MAX_INTERVAL_DAYS = 30
    log, _ = run([5] * 40, scheduler=scheduler, review_on_due=True)
    assert max(o.interval_days for o in log) <= 30
    assert log[-1].interval_days == pytest.approx(30, abs=0.01)


def test_state_stored_before_the_cap_is_capped_on_the_next_review(settings):
    settings.FLASHCARD_MAX_INTERVAL_DAYS = 36_500
    legacy = {"ease_factor": 4.1, "repetitions": 40, "interval_days": 10**30}
    outcome = SM2Scheduler().review(legacy, quality=5, reviewed_at=T0)
    assert outcome.interval_days == 36_500 and outcome.due == T0 + timedelta(days=36_500)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    reviews=st.lists(
        st.tuples(st.integers(0, 5), st.floats(0, 2.0)),  # (quality, when: fraction of the interval waited)
        min_size=1, max_size=300,
    ),
    cap=st.integers(1, 36_500),
)
def test_any_review_sequence_stays_within_the_cap(reviews, cap, settings):
    settings.FLASHCARD_MAX_INTERVAL_DAYS = cap
    states, now = {}, T0
    for quality, wait in reviews:
        outcomes = review_all(states, quality=quality, reviewed_at=now)
        states = {name: o.state for name, o in outcomes.items()}
        for name in SCHEDULERS:
            assert 0 <= outcomes[name].interval_days <= cap
            assert outcomes[name].due <= now + timedelta(days=cap)
        # Review somewhere between at once and twice the FSRS interval later (early, on time, late).
        now += timedelta(days=outcomes["fsrs"].interval_days * wait)
