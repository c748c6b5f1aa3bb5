"""The study-schedule generator: spreads a plan's unfinished goals over days and time slots.

Rules (each has a test in tests/learning/test_schedule.py):
* Only unfinished goals are scheduled, for their remaining hours:
  estimated_hours * (1 - progress_percentage / 100).
* A goal is scheduled only after every unfinished prerequisite has all its hours placed
  (prerequisites come first); a prerequisite cycle is a validation error.
* Among the goals that are ready, the earliest target date goes first (earliest deadline
  first minimises lateness), then priority (1 = most important), then the order given.
* Each study day offers `hours_per_day`, filled in the order of `preferred_times`, each slot
  giving at most its own length; weekends are skipped unless `include_weekends`.
* Days run from `start` to `end` (the plan's dates, never before today); hours that do not fit
  are reported as unscheduled, and a session placed after its goal's target date is flagged late.
* Time is placed in quarter hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.exceptions import ValidationError

# name -> (start, end) in local time; evening matches the canonical API's example slot.
TIME_SLOTS: dict[str, tuple[str, str]] = {
    "early_morning": ("06:00", "08:00"),
    "morning": ("08:00", "12:00"),
    "afternoon": ("13:00", "17:00"),
    "evening": ("18:00", "21:00"),
    "night": ("21:00", "23:00"),
}
QUANTUM_HOURS = 0.25
MAX_DAYS = 366


@dataclass
class GoalInput:
    id: str
    title: str
    estimated_hours: float
    progress_percentage: float = 0.0
    target_date: date | None = None
    priority: int = 3
    key_concepts: list[str] = field(default_factory=list)
    prerequisites: list[str] = field(default_factory=list)
    completed: bool = False

    @property
    def remaining_hours(self) -> float:
        if self.completed:
            return 0.0
        left = max(0.0, self.estimated_hours) * (1 - min(100.0, max(0.0, self.progress_percentage)) / 100)
        return _quantize(left)


def _quantize(hours: float) -> float:
    """Round up to whole quarter hours, so a little remaining work still gets a session."""
    quanta = int(-(-round(hours, 6) // QUANTUM_HOURS))
    return quanta * QUANTUM_HOURS


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _order(goals: list[GoalInput]) -> list[GoalInput]:
    """Check prerequisites form no cycle (Kahn's algorithm); return goals in input order."""
    ids = {g.id for g in goals}
    pending = {g.id: {p for p in g.prerequisites if p in ids} for g in goals}
    done: set[str] = set()
    while True:
        ready = [gid for gid, pre in pending.items() if gid not in done and pre <= done]
        if not ready:
            break
        done.update(ready)
    if len(done) != len(goals):
        raise ValidationError({"prerequisites": ["The goals' prerequisites form a cycle."]})
    return goals


def generate_schedule(
    *,
    goals: list[GoalInput],
    start: date,
    end: date,
    hours_per_day: float,
    preferred_times: list[str],
    include_weekends: bool,
) -> dict:
    """Returns {"days": [{date, sessions: [...], total_hours}], "unscheduled": [{goal_id, hours}]}."""
    if end < start:
        return {"days": [], "unscheduled": [{"goal_id": g.id, "goal_title": g.title, "hours": g.remaining_hours} for g in goals if g.remaining_hours]}
    if (end - start).days + 1 > MAX_DAYS:
        end = start + timedelta(days=MAX_DAYS - 1)
    slots = [s for s in dict.fromkeys(preferred_times) if s in TIME_SLOTS] or ["evening"]
    _order(goals)
    position = {g.id: i for i, g in enumerate(goals)}
    remaining = {g.id: g.remaining_hours for g in goals}
    by_id = {g.id: g for g in goals}
    # Prerequisites that are already complete (or outside this plan) do not block.
    blockers = {g.id: [p for p in g.prerequisites if p in remaining and remaining[p] > 0] for g in goals}

    def ready() -> list[GoalInput]:
        candidates = [
            by_id[gid]
            for gid, left in remaining.items()
            if left > 0 and all(remaining[p] <= 0 for p in blockers[gid])
        ]
        return sorted(candidates, key=lambda g: (g.target_date or date.max, g.priority, position[g.id]))

    days: list[dict] = []
    day = start
    while day <= end and any(v > 0 for v in remaining.values()):
        if include_weekends or day.weekday() < 5:
            capacity = int(round(hours_per_day, 6) / QUANTUM_HOURS) * QUANTUM_HOURS
            sessions: list[dict] = []
            for slot in slots:
                slot_start, slot_end = (_minutes(t) for t in TIME_SLOTS[slot])
                cursor = slot_start
                while capacity > 0 and cursor < slot_end:
                    queue = ready()
                    if not queue:
                        break
                    goal = queue[0]
                    hours = min(remaining[goal.id], capacity, (slot_end - cursor) / 60)
                    hours = int(hours / QUANTUM_HOURS) * QUANTUM_HOURS
                    if hours <= 0:
                        break
                    finish = cursor + int(round(hours * 60))
                    sessions.append(
                        {
                            "goal_id": goal.id,
                            "goal_title": goal.title,
                            "duration_hours": hours,
                            "time_slot": {"start": _hhmm(cursor), "end": _hhmm(finish), "name": slot},
                            "focus_areas": list(goal.key_concepts),
                            "target_date": goal.target_date.isoformat() if goal.target_date else None,
                            "after_target_date": bool(goal.target_date and day > goal.target_date),
                        }
                    )
                    remaining[goal.id] = round(remaining[goal.id] - hours, 6)
                    capacity = round(capacity - hours, 6)
                    cursor = finish
            if sessions:
                days.append({"date": day.isoformat(), "sessions": sessions, "total_hours": round(sum(s["duration_hours"] for s in sessions), 2)})
        day += timedelta(days=1)
    unscheduled = [
        {"goal_id": gid, "goal_title": by_id[gid].title, "hours": left} for gid, left in remaining.items() if left > 0
    ]
    return {"days": days, "unscheduled": unscheduled}
