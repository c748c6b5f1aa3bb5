"""Dashboards: the learning dashboard and the canonical API's /api/v1/accounts/dashboard/, from stored rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone

from tutorhub.engagement.models import Achievement
from tutorhub.learning.analytics import (
    activity_days,
    completed_sessions,
    day_start,
    round_figure,
    streak_milestones,
    streaks,
)
from tutorhub.learning.learner_model import WEAK_THRESHOLD, learner_topic_states
from tutorhub.learning.models import LearningGoal, StudyPlan, StudySession
from tutorhub.learning.selectors import plan_expected_completion, plan_weighted_completion, user_today

PRIORITY_LABEL = {1: "high", 2: "high", 3: "medium", 4: "low", 5: "low"}


def _upcoming_deadlines(user, today: date, days: int = 14, limit: int = 10) -> list[dict]:
    goals = (
        LearningGoal.objects.filter(study_plan__user=user, target_date__gte=today, target_date__lte=today + timedelta(days=days))
        .exclude(status=LearningGoal.Status.COMPLETED)
        .exclude(study_plan__status=StudyPlan.Status.ARCHIVED)
        .select_related("study_plan")
        .order_by("target_date", "priority")[:limit]
    )
    return [
        {
            "type": "goal",
            "id": str(g.pk),
            "title": g.title,
            "due_date": g.target_date,
            "priority": PRIORITY_LABEL.get(g.priority, "low"),
            "study_plan": str(g.study_plan_id),
            "progress_percentage": g.progress_percentage,
        }
        for g in goals
    ]


def _weekly_hours(user, now: datetime) -> float:
    return round_figure(sum(s.duration_minutes for s in completed_sessions(user, now - timedelta(days=7))) / 60)


def accounts_dashboard(*, user, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    today = user_today(user, now)
    days = activity_days(user=user)
    month_start = day_start(user, today.replace(day=1))
    completed = LearningGoal.objects.filter(study_plan__user=user, completed_at__isnull=False).order_by("-completed_at")
    achievements = [
        {"type": "goal_completed", "title": f"Completed goal: {g.title}", "achieved_at": g.completed_at}
        for g in completed.only("title", "completed_at")[:5]
    ]
    for length, day in streak_milestones(days):
        achievements.append({"type": "study_streak", "title": f"{length}-day study streak!", "achieved_at": day_start(user, day)})
    # Badges the engagement app awarded (coins, leaderboards) are achievements too.
    achievements.extend(
        {"type": a.code, "title": a.title, "achieved_at": a.earned_at}
        for a in Achievement.objects.filter(user=user).order_by("-earned_at")[:5]
    )
    seen: set[str] = set()
    achievements = [a for a in sorted(achievements, key=lambda a: a["achieved_at"], reverse=True) if not (a["title"] in seen or seen.add(a["title"]))]
    return {
        "study_streak": streaks(days, today),
        "weekly_hours": _weekly_hours(user, now),
        "goals_completed_this_month": LearningGoal.objects.filter(study_plan__user=user, completed_at__gte=month_start).count(),
        "upcoming_deadlines": _upcoming_deadlines(user, today),
        "recent_achievements": achievements[:5],
    }


def learning_dashboard(*, user, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    today = user_today(user, now)
    plans = list(
        StudyPlan.objects.filter(user=user).exclude(status=StudyPlan.Status.ARCHIVED).prefetch_related("goals")
    )
    plan_rows, todays = [], []
    counts = {"total": 0, "completed": 0, "in_progress": 0, "overdue": 0}
    for plan in plans:
        goals = list(plan.goals.all())
        counts["total"] += len(goals)
        counts["completed"] += sum(g.status == LearningGoal.Status.COMPLETED for g in goals)
        counts["in_progress"] += sum(g.status == LearningGoal.Status.IN_PROGRESS for g in goals)
        counts["overdue"] += sum(1 for g in goals if g.target_date and g.target_date < today and g.status != LearningGoal.Status.COMPLETED)
        plan_rows.append(
            {
                "id": str(plan.pk),
                "title": plan.title,
                "status": plan.status,
                "completion_rate": plan_weighted_completion(goals),
                "expected_completion_rate": plan_expected_completion(plan, today),
                "end_date": plan.end_date,
                "goals_total": len(goals),
            }
        )
        for day in (plan.schedule or {}).get("days", []):
            if day["date"] == today.isoformat():
                todays.extend({**s, "study_plan": str(plan.pk)} for s in day["sessions"])
    active = StudySession.objects.filter(user=user, status=StudySession.Status.ACTIVE).values_list("pk", flat=True).first()
    weak = [s for s in learner_topic_states(user=user).values() if s.graded_events and s.mastery < WEAK_THRESHOLD]
    weak.sort(key=lambda s: s.mastery)
    week_sessions = completed_sessions(user, now - timedelta(days=7))
    return {
        "active_plans": sum(p.status == StudyPlan.Status.ACTIVE for p in plans),
        "plans": plan_rows,
        "goals": counts,
        "study_hours_this_week": round_figure(sum(s.duration_minutes for s in week_sessions) / 60),
        "sessions_this_week": len(week_sessions),
        "study_streak": streaks(activity_days(user=user), today),
        "upcoming_deadlines": _upcoming_deadlines(user, today, days=7),
        "todays_schedule": todays,
        "active_session": str(active) if active else None,
        "weak_topics": [{"topic": s.topic, "mastery": round_figure(s.mastery, 3)} for s in weak[:5]],
    }
