"""Spaced-repetition schedulers behind one small interface.

A scheduler turns (its own memory of a card, one graded review) into (next due time, interval,
new memory). Its memory is a JSON dict kept per card under `Flashcard.scheduler_state[name]`,
so schedulers never share or fight over model columns.

Every registered scheduler is run on every review (see `review_all`), not only the active one:
switching a deck or a student from SM-2 to FSRS (or back) then takes effect at once with a memory
built from the card's whole history, instead of restarting the card from zero. The active
scheduler only decides which due date and interval the card gets.

Grades: the canonical API sends SM-2's `quality_response` 0-5. FSRS takes four ratings; the mapping
follows SM-2's own pass/fail line (q < 3 is a failed recall in SM-2):

    0 complete blackout            -> Again
    1 wrong, answer recognised     -> Again
    2 wrong, answer felt easy      -> Again
    3 right with serious difficulty-> Hard
    4 right after hesitation       -> Good
    5 perfect recall               -> Easy
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import fsrs
from django.conf import settings

PASSING_QUALITY = 3  # SM-2: a response graded 3 or more is a successful recall

QUALITY_TO_FSRS_RATING: dict[int, fsrs.Rating] = {
    0: fsrs.Rating.Again,
    1: fsrs.Rating.Again,
    2: fsrs.Rating.Again,
    3: fsrs.Rating.Hard,
    4: fsrs.Rating.Good,
    5: fsrs.Rating.Easy,
}

DEFAULT_ALGORITHM = "fsrs"
DEFAULT_DESIRED_RETENTION = 0.9


@dataclass(frozen=True)
class ReviewOutcome:
    due: datetime
    interval_days: float
    state: dict[str, Any]


class Scheduler(ABC):
    name: str

    @abstractmethod
    def review(
        self,
        state: dict[str, Any] | None,
        *,
        quality: int,
        reviewed_at: datetime,
        duration_ms: int | None = None,
        desired_retention: float = DEFAULT_DESIRED_RETENTION,
    ) -> ReviewOutcome:
        """Apply one review graded `quality` (0-5) to a card whose memory is `state` (None = new)."""


def max_interval_days() -> int:
    """The longest interval either scheduler may give (settings.FLASHCARD_MAX_INTERVAL_DAYS).

    Both algorithms grow intervals geometrically with every passing review; unbounded, SM-2 passes
    `datetime.max` on about the 17th review in a row (OverflowError). Read per review, not at import,
    so a changed setting applies to the next review.
    """
    return max(1, int(settings.FLASHCARD_MAX_INTERVAL_DAYS))


def _days_between(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 86400, 4)


class SM2Scheduler(Scheduler):
    """SuperMemo-2 (Wozniak 1990): intervals 1, 6, then previous interval x ease factor."""

    name = "sm2"
    initial_ease = 2.5
    minimum_ease = 1.3

    def review(self, state, *, quality, reviewed_at, duration_ms=None, desired_retention=DEFAULT_DESIRED_RETENTION):
        state = state or {}
        ease = float(state.get("ease_factor", self.initial_ease))
        repetitions = int(state.get("repetitions", 0))
        cap = max_interval_days()
        # A state stored before the cap existed may hold a longer interval: cap it on the way in too.
        interval = min(int(state.get("interval_days", 0)), cap)
        if quality >= PASSING_QUALITY:
            interval = 1 if repetitions == 0 else 6 if repetitions == 1 else round(interval * ease)
            interval = min(interval, cap)
            repetitions += 1
        else:
            # A lapse restarts the repetition sequence but keeps the (lowered) ease.
            repetitions, interval = 0, 1
        ease = max(self.minimum_ease, ease + 0.1 - (5 - quality) * (0.08 + (5 - quality) * 0.02))
        due = reviewed_at + timedelta(days=interval)
        return ReviewOutcome(
            due=due,
            interval_days=float(interval),
            state={"ease_factor": round(ease, 4), "repetitions": repetitions, "interval_days": interval},
        )


class FSRSScheduler(Scheduler):
    """FSRS through the `fsrs` package (default parameters until they are optimised per student)."""

    name = "fsrs"

    def review(self, state, *, quality, reviewed_at, duration_ms=None, desired_retention=DEFAULT_DESIRED_RETENTION):
        # Fuzzing is off so a student's schedule is reproducible from the review log.
        scheduler = fsrs.Scheduler(
            desired_retention=desired_retention, maximum_interval=max_interval_days(), enable_fuzzing=False
        )
        card = fsrs.Card.from_dict({**state, "card_id": 0}) if state else fsrs.Card(card_id=0, due=reviewed_at)
        reviewed_at = reviewed_at.astimezone(UTC)
        card, _log = scheduler.review_card(
            card, QUALITY_TO_FSRS_RATING[quality], review_datetime=reviewed_at, review_duration=duration_ms
        )
        memory = card.to_dict()
        memory.pop("card_id", None)
        return ReviewOutcome(due=card.due, interval_days=_days_between(reviewed_at, card.due), state=memory)


SCHEDULERS: dict[str, Scheduler] = {s.name: s for s in (FSRSScheduler(), SM2Scheduler())}
ALGORITHM_CHOICES = [("fsrs", "FSRS"), ("sm2", "SM-2")]


# The four buttons of a review screen and the grade (0-5) each sends. Again sends 1 ("wrong,
# answer recognised"): SM-2 and FSRS treat 0-2 alike except for a slightly harsher ease change.
RATING_BUTTONS: tuple[tuple[str, int], ...] = (("Again", 1), ("Hard", 3), ("Good", 4), ("Easy", 5))


def preview_intervals(
    state: dict[str, Any] | None,
    *,
    algorithm: str,
    reviewed_at: datetime,
    desired_retention: float = DEFAULT_DESIRED_RETENTION,
) -> dict[int, float]:
    """{quality: interval_days} the active scheduler would give for each rating button, computed
    by the very scheduler a review runs (nothing stored), so a button's label is what pressing it
    does."""
    scheduler = SCHEDULERS[algorithm]
    return {
        quality: scheduler.review(
            state, quality=quality, reviewed_at=reviewed_at, desired_retention=desired_retention
        ).interval_days
        for _label, quality in RATING_BUTTONS
    }


def review_all(
    states: dict[str, Any] | None,
    *,
    quality: int,
    reviewed_at: datetime,
    duration_ms: int | None = None,
    desired_retention: float = DEFAULT_DESIRED_RETENTION,
) -> dict[str, ReviewOutcome]:
    """Run every scheduler on one review; returns {name: outcome}."""
    if not 0 <= quality <= 5:
        raise ValueError("quality must be between 0 and 5")
    states = states or {}
    return {
        name: scheduler.review(
            states.get(name),
            quality=quality,
            reviewed_at=reviewed_at,
            duration_ms=duration_ms,
            desired_retention=desired_retention,
        )
        for name, scheduler in SCHEDULERS.items()
    }
