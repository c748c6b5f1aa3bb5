"""Learning analytics and dashboards. Every figure is computed from stored rows: study sessions,
goals (and their progress history) and learner events; nothing is estimated or invented."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.db.models.functions import TruncDate
from django.utils import timezone

from tutorhub.learning.learner_model import WEAK_THRESHOLD, learner_topic_states, mastery_from_events
from tutorhub.learning.models import LearnerEvent, LearningGoal, StudyPlan, StudySession
from tutorhub.learning.selectors import (
    user_today,
    user_tz,
)
from tutorhub.learning.services import normalize_topic

STREAK_MILESTONES = (3, 7, 14, 30, 60, 100, 365)


def round_figure(value: float, places: int = 2) -> float:
    return round(float(value), places)


def day_start(user, day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=user_tz(user))


def completed_sessions(user, start: datetime | None = None, end: datetime | None = None):
    qs = StudySession.objects.filter(user=user, status=StudySession.Status.COMPLETED)
    if start:
        qs = qs.filter(started_at__gte=start)
    if end:
        qs = qs.filter(started_at__lt=end)
    return list(qs.only("started_at", "duration_minutes", "productivity_rating", "study_plan_id"))


# --- streaks -------------------------------------------------------------------------------
def activity_days(*, user, since: date | None = None) -> set[date]:
    """Days (in the student's time zone) with a completed study session or any learning event."""
    tz = user_tz(user)
    since_dt = day_start(user, since) if since else None
    events = LearnerEvent.objects.filter(user=user)
    sessions = StudySession.objects.filter(user=user, status=StudySession.Status.COMPLETED)
    if since_dt:
        events = events.filter(occurred_at__gte=since_dt)
        sessions = sessions.filter(started_at__gte=since_dt)
    days = set(events.annotate(d=TruncDate("occurred_at", tzinfo=tz)).values_list("d", flat=True).distinct())
    days |= set(sessions.annotate(d=TruncDate("started_at", tzinfo=tz)).values_list("d", flat=True).distinct())
    return days


def streaks(days: set[date], today: date) -> dict:
    """current: consecutive days up to today (or yesterday, if today has no activity yet)."""
    current = 0
    cursor = today if today in days else today - timedelta(days=1)
    while cursor in days:
        current += 1
        cursor -= timedelta(days=1)
    longest = max((run for _day, run in _runs(days)), default=0)
    return {"current": current, "longest": longest}


def _runs(days: set[date]):
    """Each active day in order with the length of the consecutive-day run it ends."""
    run, previous = 0, None
    for day in sorted(days):
        run = run + 1 if previous and day - previous == timedelta(days=1) else 1
        yield day, run
        previous = day


def streak_milestones(days: set[date]) -> list[tuple[int, date]]:
    return [(run, day) for day, run in _runs(days) if run in STREAK_MILESTONES]


# --- study session statistics --------------------------------------------------------------
def _hour_table(user, sessions: list[StudySession]) -> dict[int, dict]:
    tz = user_tz(user)
    table: dict[int, dict] = defaultdict(lambda: {"count": 0, "minutes": 0.0, "ratings": []})
    for s in sessions:
        row = table[s.started_at.astimezone(tz).hour]
        row["count"] += 1
        row["minutes"] += s.duration_minutes
        if s.productivity_rating:
            row["ratings"].append(s.productivity_rating)
    return table


def _best_hours(table: dict[int, dict], limit: int = 3) -> list[dict]:
    """Hours ranked by average productivity rating, then by how often the student studies then."""
    rated = [(h, r) for h, r in table.items() if r["ratings"]]
    rated.sort(key=lambda hr: (-sum(hr[1]["ratings"]) / len(hr[1]["ratings"]), -hr[1]["count"], hr[0]))
    return [
        {"hour": h, "count": r["count"], "avg_productivity": round_figure(sum(r["ratings"]) / len(r["ratings"]))}
        for h, r in rated[:limit]
    ]


def study_session_stats(*, user, start_date: date | None = None, end_date: date | None = None) -> dict:
    start = day_start(user, start_date) if start_date else None
    end = day_start(user, end_date + timedelta(days=1)) if end_date else None
    sessions = completed_sessions(user, start, end)
    minutes = sum(s.duration_minutes for s in sessions)
    ratings = [s.productivity_rating for s in sessions if s.productivity_rating]
    table = _hour_table(user, sessions)
    best = _best_hours(table)
    if not best:  # no ratings yet: the hours the student actually studies most
        best = [{"hour": h, "count": r["count"]} for h, r in sorted(table.items(), key=lambda hr: (-hr[1]["count"], hr[0]))[:3]]
    return {
        "total_sessions": len(sessions),
        "total_hours": round_figure(minutes / 60),
        "average_duration_minutes": round_figure(minutes / len(sessions), 1) if sessions else 0,
        "average_productivity": round_figure(sum(ratings) / len(ratings)) if ratings else None,
        "sessions_by_hour": [
            {"hour": h, "count": r["count"], "avg_duration": round_figure(r["minutes"] / r["count"], 1)} for h, r in sorted(table.items())
        ],
        "most_productive_hours": best,
        "current_streak": streaks(activity_days(user=user), user_today(user)),
    }


# --- overview ------------------------------------------------------------------------------
def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def learning_overview(*, user, days: int = 30, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    tz = user_tz(user)
    today = user_today(user, now)
    window_start = day_start(user, today - timedelta(days=days - 1))
    sessions = completed_sessions(user, window_start)
    minutes = sum(s.duration_minutes for s in sessions)
    goals = list(
        LearningGoal.objects.filter(study_plan__user=user)
        .exclude(study_plan__status=StudyPlan.Status.ARCHIVED)
        .only("status", "completed_at", "target_date")
    )
    completed_in_window = [g for g in goals if g.completed_at and g.completed_at >= window_start]
    relevant = [
        g for g in goals if (g.completed_at and g.completed_at >= window_start) or (g.target_date and window_start.date() <= g.target_date <= today)
    ] or goals
    completion_rate = round_figure(100 * sum(g.status == LearningGoal.Status.COMPLETED for g in relevant) / len(relevant), 1) if relevant else 0.0

    weeks: dict[date, dict] = {}

    def week_row(day: date) -> dict:
        start = _week_start(day)
        return weeks.setdefault(start, {"week": start.isoformat(), "count": 0, "hours": 0.0, "goals_completed": 0})

    cursor = window_start.date()
    while cursor <= today:  # every week of the window is listed, even an empty one
        week_row(cursor)
        cursor += timedelta(days=7)
    week_row(today)
    for s in sessions:
        row = week_row(s.started_at.astimezone(tz).date())
        row["count"] += 1
        row["hours"] = round_figure(row["hours"] + s.duration_minutes / 60)
    for g in completed_in_window:
        week_row(g.completed_at.astimezone(tz).date())["goals_completed"] += 1

    current_velocity = minutes / 60 / days
    plans = StudyPlan.objects.filter(user=user, status=StudyPlan.Status.ACTIVE, start_date__lte=today, end_date__gte=window_start.date())
    target_velocity = sum(p.study_hours_per_week for p in plans.only("study_hours_per_week")) / 7
    ratio = current_velocity / target_velocity if target_velocity else None
    velocity_status = "no_target" if ratio is None else ("ahead" if ratio > 1.2 else "on_track" if ratio >= 0.9 else "behind")

    table = _hour_table(user, sessions)
    best = _best_hours(table)
    peak = best[0]["hour"] if best else None
    recommendations = []
    if peak is not None:
        recommendations.append(
            {
                "type": "scheduling",
                "priority": "medium",
                "message": f"Schedule important study sessions around {peak:02d}:00",
                "suggestion": "You are most productive at this time",
            }
        )
    if velocity_status == "behind":
        recommendations.append(
            {
                "type": "time",
                "priority": "high",
                "message": f"You study {current_velocity:.1f} h/day against a plan of {target_velocity:.1f} h/day",
                "suggestion": "Add short daily sessions to get back on track",
            }
        )
    weak = [s for s in learner_topic_states(user=user).values() if s.graded_events and s.mastery < WEAK_THRESHOLD]
    weak.sort(key=lambda s: s.mastery)
    if weak:
        recommendations.append(
            {
                "type": "review",
                "priority": "high" if weak[0].mastery < 0.4 else "medium",
                "message": "Review " + ", ".join(s.topic for s in weak[:3]),
                "suggestion": "Your recent results on these topics are below 60%",
            }
        )
    return {
        "days": days,
        "total_study_hours": round_figure(minutes / 60),
        "average_daily_hours": round_figure(minutes / 60 / days),
        "total_sessions": len(sessions),
        "goals_completed": len(completed_in_window),
        "completion_rate": completion_rate,
        "progress_by_week": [weeks[k] for k in sorted(weeks)],
        "learning_velocity": {
            "current_velocity": round_figure(current_velocity),
            "target_velocity": round_figure(target_velocity),
            "velocity_ratio": round_figure(ratio) if ratio is not None else None,
            "status": velocity_status,
        },
        "productivity_patterns": {"best_hours": best, "peak_productivity_time": peak},
        "recommendations": recommendations,
    }


# --- performance trends --------------------------------------------------------------------
def performance_trends(*, user, weeks: int = 8, now: datetime | None = None) -> dict:
    """Weekly scores per activity kind, the average mastery at each week's end, and per-topic
    change of mastery between the start of the window and now."""
    now = now or timezone.now()
    today = user_today(user, now)
    first_week = _week_start(today) - timedelta(days=7 * (weeks - 1))
    window_start = day_start(user, first_week)
    history = list(
        LearnerEvent.objects.filter(user=user, occurred_at__gte=now - timedelta(days=365)).only(
            "kind", "topic", "subject", "score", "duration_seconds", "occurred_at"
        )
    )
    series = []
    for i in range(weeks):
        start = first_week + timedelta(days=7 * i)
        lo, hi = day_start(user, start), min(now, day_start(user, start + timedelta(days=7)))
        in_week = [e for e in history if lo <= e.occurred_at < hi]
        row: dict = {"week": start.isoformat()}
        for kind, key in (("quiz_answer", "quiz"), ("flashcard_review", "flashcards"), ("homework", "homework")):
            scores = [e.score for e in in_week if e.kind == kind and e.score is not None]
            row[f"{key}_count"] = len(scores)
            row[f"{key}_average"] = round_figure(100 * sum(scores) / len(scores), 1) if scores else None
        row["study_minutes"] = round_figure(sum(e.duration_seconds for e in in_week if e.kind == "study") / 60, 1)
        graded = [s.mastery for s in mastery_from_events(history, now=hi).values() if s.graded_events]
        row["average_mastery"] = round_figure(sum(graded) / len(graded), 3) if graded else None
        series.append(row)
    before = mastery_from_events(history, now=window_start)
    current = mastery_from_events(history, now=now)
    topics = []
    for topic, state in current.items():
        if not state.graded_events:
            continue
        previous = before.get(topic)
        prev = previous.mastery if previous and previous.graded_events else None
        change = None if prev is None else state.mastery - prev
        trend = "new" if change is None else "improving" if change > 0.05 else "declining" if change < -0.05 else "stable"
        topics.append(
            {
                "topic": topic,
                "subject": state.subject,
                "mastery": round_figure(state.mastery, 3),
                "previous_mastery": None if prev is None else round_figure(prev, 3),
                "change": None if change is None else round_figure(change, 3),
                "trend": trend,
                "evidence_count": state.graded_events,
            }
        )
    topics.sort(key=lambda t: t["mastery"])
    scored = [r for r in series if r["average_mastery"] is not None]
    direction = None
    if len(scored) >= 2:
        delta = scored[-1]["average_mastery"] - scored[0]["average_mastery"]
        direction = "improving" if delta > 0.02 else "declining" if delta < -0.02 else "stable"
    return {"weeks": weeks, "series": series, "topics": topics, "overall_trend": direction}


# --- learning path -------------------------------------------------------------------------
def _critical_path(goals: list[LearningGoal], remaining: dict) -> float:
    """Longest chain of remaining hours through prerequisites: the least time left even with
    unlimited parallel study (prerequisite cycles are refused on write, `seen` guards anyway)."""
    by_id = {g.pk: g for g in goals}
    memo: dict = {}

    def chain(gid, seen=()) -> float:
        if gid not in memo:
            pres = [p.pk for p in by_id[gid].prerequisites.all() if p.pk in by_id and p.pk not in seen]
            memo[gid] = remaining[gid] + max((chain(p, (*seen, gid)) for p in pres), default=0.0)
        return memo[gid]

    return max((chain(g.pk) for g in goals), default=0.0)


def learning_path_analysis(*, user, now: datetime | None = None) -> dict:
    """Per active plan: goal order by prerequisites, what is blocked, the critical path of
    remaining hours, and a completion date projected from the last 14 days' pace."""
    now = now or timezone.now()
    today = user_today(user, now)
    plans = list(
        StudyPlan.objects.filter(user=user, status=StudyPlan.Status.ACTIVE).prefetch_related("goals__prerequisites")
    )
    recent = completed_sessions(user, now - timedelta(days=14))
    pace_by_plan: dict = defaultdict(float)
    for s in recent:
        pace_by_plan[s.study_plan_id] += s.duration_minutes / 60 / 14
    states = learner_topic_states(user=user)
    out = []
    for plan in plans:
        goals = list(plan.goals.all())
        done = {g.pk for g in goals if g.status == LearningGoal.Status.COMPLETED}
        remaining = {g.pk: 0.0 if g.pk in done else g.estimated_hours * (1 - g.progress_percentage / 100) for g in goals}
        rows = []
        for g in goals:
            blocked_by = [str(p.pk) for p in g.prerequisites.all() if p.pk not in done]
            keys = [normalize_topic(c) for c in g.key_concepts]
            masteries = [states[k].mastery for k in keys if k in states and states[k].graded_events]
            rows.append(
                {
                    "id": str(g.pk),
                    "title": g.title,
                    "status": g.status,
                    "progress_percentage": g.progress_percentage,
                    "remaining_hours": round_figure(remaining[g.pk]),
                    "prerequisites": [str(p.pk) for p in g.prerequisites.all()],
                    "blocked_by": blocked_by,
                    "is_available": g.pk not in done and not blocked_by,
                    "dependents_waiting": sum(1 for o in goals if o.pk not in done and g in o.prerequisites.all()) if g.pk not in done else 0,
                    "mastery": round_figure(sum(masteries) / len(masteries), 3) if masteries else None,
                    "target_date": g.target_date,
                }
            )
        total_remaining = sum(remaining.values())
        pace = pace_by_plan.get(plan.pk, 0.0)
        projected = today + timedelta(days=int(-(-total_remaining // pace))) if pace > 0 and total_remaining else (today if not total_remaining else None)
        out.append(
            {
                "plan_id": str(plan.pk),
                "title": plan.title,
                "remaining_hours": round_figure(total_remaining),
                "critical_path_hours": round_figure(_critical_path(goals, remaining)),
                "recent_pace_hours_per_day": round_figure(pace),
                "projected_completion_date": projected,
                "end_date": plan.end_date,
                "on_track": None if projected is None else projected <= plan.end_date,
                "next_goals": [r["id"] for r in sorted((r for r in rows if r["is_available"]), key=lambda r: (r["target_date"] or date.max, r["title"]))][:3],
                "bottlenecks": [r["id"] for r in sorted(rows, key=lambda r: -r["dependents_waiting"]) if r["dependents_waiting"] > 0][:3],
                "goals": rows,
            }
        )
    return {"plans": out}
