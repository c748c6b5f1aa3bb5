"""Reads for learning management: scoped querysets, plan progress, recommendations, resources."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from tutorhub.core.permissions import is_admin
from tutorhub.knowledge.retrieval import retrieve
from tutorhub.learning.learner_model import (  # noqa: F401  (re-exported contract)
    WEAK_THRESHOLD,
    difficulty_for_mastery,
    learner_difficulty,
    learner_mastery,
    learner_topic_states,
    learner_weak_topics,
)
from tutorhub.learning.models import Feedback, LearningGoal, StudyPlan, StudySession
from tutorhub.learning.resources import resource_sources
from tutorhub.learning.services import normalize_topic

logger = logging.getLogger(__name__)

BEHIND_MARGIN = 10.0  # percentage points behind the time-based expectation before we say so


def user_tz(user) -> ZoneInfo:
    try:
        return ZoneInfo(getattr(user, "timezone", "") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def user_today(user, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(user_tz(user)).date()


def study_plan_list(*, user) -> QuerySet[StudyPlan]:
    return StudyPlan.objects.filter(user=user).annotate(
        goals_total=Count("goals", distinct=True),
        goals_completed=Count("goals", filter=Q(goals__status=LearningGoal.Status.COMPLETED), distinct=True),
    ).order_by("-created_at")


def goal_list(*, user) -> QuerySet[LearningGoal]:
    return (
        LearningGoal.objects.filter(study_plan__user=user)
        .select_related("study_plan")
        .prefetch_related(Prefetch("prerequisites", queryset=LearningGoal.objects.only("id", "study_plan_id")))
    )


def study_session_list(*, user) -> QuerySet[StudySession]:
    return StudySession.objects.filter(user=user).prefetch_related(
        Prefetch("goals_worked_on", queryset=LearningGoal.objects.only("id"))
    )


def feedback_list(*, user) -> QuerySet[Feedback]:
    qs = Feedback.objects.select_related("user")
    return qs if is_admin(user) else qs.filter(user=user)


# --- plan progress -------------------------------------------------------------------------
def plan_weighted_completion(goals: list[LearningGoal]) -> float:
    """Progress of the plan: goals' progress weighted by their estimated hours."""
    total = sum(max(g.estimated_hours, 0.01) for g in goals)
    if not total:
        return 0.0
    done = sum(max(g.estimated_hours, 0.01) * (100 if g.status == LearningGoal.Status.COMPLETED else g.progress_percentage) for g in goals)
    return round(done / total, 1)


def plan_expected_completion(plan: StudyPlan, today: date) -> float:
    """Where a plan following a steady pace would be today: elapsed share of its days."""
    span = (plan.end_date - plan.start_date).days + 1
    elapsed = min(span, max(0, (today - plan.start_date).days + 1))
    return round(100 * elapsed / span, 1)


def _goal_expected(goal: LearningGoal, plan: StudyPlan, today: date) -> float | None:
    if not goal.target_date:
        return None
    start = goal.created_at.date() if goal.created_at else plan.start_date
    start = max(plan.start_date, min(start, goal.target_date))
    span = (goal.target_date - start).days + 1
    return round(100 * min(span, max(0, (today - start).days + 1)) / span, 1)


def study_plan_progress(*, plan: StudyPlan, now: datetime | None = None) -> dict:
    today = user_today(plan.user, now)
    goals = list(plan.goals.all())
    states = learner_topic_states(user=plan.user, topics=[c for g in goals for c in g.key_concepts])
    hours = plan.sessions.filter(status=StudySession.Status.COMPLETED).aggregate(m=Sum("duration_minutes"))["m"] or 0
    completion = plan_weighted_completion(goals)
    expected = plan_expected_completion(plan, today)
    status = "behind" if completion + BEHIND_MARGIN < expected else ("ahead" if completion > expected + BEHIND_MARGIN else "on_track")
    if goals and all(g.status == LearningGoal.Status.COMPLETED for g in goals):
        status = "completed"
    goal_rows = []
    for g in goals:
        keys = [normalize_topic(c) for c in g.key_concepts]
        masteries = [states[k].mastery for k in keys if k in states and states[k].graded_events]
        goal_rows.append(
            {
                "id": str(g.pk),
                "title": g.title,
                "status": g.status,
                "progress_percentage": g.progress_percentage,
                "expected_progress": _goal_expected(g, plan, today),
                "target_date": g.target_date,
                "is_overdue": bool(g.target_date and g.target_date < today and g.status != LearningGoal.Status.COMPLETED),
                "estimated_hours": g.estimated_hours,
                "mastery": round(sum(masteries) / len(masteries), 3) if masteries else None,
            }
        )
    return {
        "plan_id": str(plan.pk),
        "title": plan.title,
        "status": status,
        "completion_rate": completion,
        "expected_completion_rate": expected,
        "total_goals": len(goals),
        "completed_goals": sum(g.status == LearningGoal.Status.COMPLETED for g in goals),
        "in_progress_goals": sum(g.status == LearningGoal.Status.IN_PROGRESS for g in goals),
        "total_estimated_hours": round(sum(g.estimated_hours for g in goals), 2),
        "hours_studied": round(hours / 60, 2),
        "days_elapsed": max(0, min((today - plan.start_date).days, (plan.end_date - plan.start_date).days + 1)),
        "days_remaining": max(0, (plan.end_date - today).days + 1),
        "goals": goal_rows,
    }


def study_plan_recommendations(*, plan: StudyPlan, now: datetime | None = None) -> list[dict]:
    """Recommendations from the plan's real state, most urgent first."""
    now = now or timezone.now()
    today = user_today(plan.user, now)
    progress = study_plan_progress(plan=plan, now=now)
    rows = progress["goals"]
    open_rows = [r for r in rows if r["status"] != LearningGoal.Status.COMPLETED]
    open_rows.sort(key=lambda r: (r["target_date"] or date.max, r["title"]))
    recs: list[dict] = []

    if progress["status"] == "behind":
        remaining_hours = sum(r["estimated_hours"] * (1 - r["progress_percentage"] / 100) for r in open_rows)
        weeks_left = max(1.0, progress["days_remaining"] / 7)
        recs.append(
            {
                "type": "schedule",
                "priority": "high",
                "title": "You are behind schedule",
                "description": f"Your completion rate is {progress['completion_rate']:g}% but should be {progress['expected_completion_rate']:g}%",
                "action": "increase_study_time",
                "metadata": {
                    "suggested_hours": round(remaining_hours / weeks_left, 1),
                    "focus_goals": [r["id"] for r in open_rows[:3]],
                },
            }
        )

    struggling = [
        r
        for r in open_rows
        if (r["mastery"] is not None and r["mastery"] < WEAK_THRESHOLD)
        # Past half of its own time and more than 25 points short of a steady pace.
        or (r["expected_progress"] is not None and r["expected_progress"] >= 50 and r["progress_percentage"] + 25 < r["expected_progress"])
    ]
    if struggling:
        recs.append(
            {
                "type": "performance",
                "priority": "medium",
                "title": "Focus on challenging topics",
                "description": "Some goals need more attention based on your progress and results",
                "action": "review_materials",
                "metadata": {
                    "struggling_goals": [r["id"] for r in struggling],
                    "suggested_resources": ["flashcards", "practice_quiz", "own_documents"],
                },
            }
        )

    overdue = [r for r in open_rows if r["is_overdue"]]
    if overdue:
        recs.append(
            {
                "type": "deadline",
                "priority": "high",
                "title": f"{len(overdue)} goal(s) past their target date",
                "description": "Finish them or move their target dates so the schedule stays realistic",
                "action": "reschedule_goals",
                "metadata": {"overdue_goals": [r["id"] for r in overdue]},
            }
        )
    upcoming = [r for r in open_rows if r["target_date"] and today <= r["target_date"] <= today + timedelta(days=7)]
    for r in upcoming:
        days = (r["target_date"] - today).days
        recs.append(
            {
                "type": "deadline",
                "priority": "high" if days <= 2 else "medium",
                "title": f"Upcoming deadline: {r['title']}",
                "description": f"Due in {days} day(s) and {r['progress_percentage']:g}% done",
                "action": "prioritize_goal",
                "metadata": {"goal_id": r["id"], "due_date": r["target_date"].isoformat(), "days_left": days},
            }
        )

    last = plan.sessions.filter(status=StudySession.Status.COMPLETED).order_by("-started_at").values_list("started_at", flat=True).first()
    if open_rows and (last is None or now - last > timedelta(days=7)) and today >= plan.start_date:
        recs.append(
            {
                "type": "consistency",
                "priority": "medium",
                "title": "Resume your study sessions",
                "description": "No study session on this plan in the last 7 days" if last else "No study session on this plan yet",
                "action": "start_session",
                "metadata": {"last_session_at": last.isoformat() if last else None},
            }
        )
    order = {"high": 0, "medium": 1, "low": 2}
    recs.sort(key=lambda r: order[r["priority"]])
    return recs


# --- resources for a goal or a weak topic ---------------------------------------------------
def resources_for_concepts(*, user, concepts: list[str], limit: int = 10) -> list[dict]:
    """The student's own documents and flashcards that match the concepts (the canonical API's shape:
    type, title, url, estimated_time, difficulty), best matches first."""
    concepts = [c for c in dict.fromkeys(normalize_topic(c) for c in concepts) if c]
    if not concepts:
        return []
    states = learner_topic_states(user=user, topics=concepts)
    known = [states[c].mastery for c in concepts if c in states]
    difficulty = difficulty_for_mastery(sum(known) / len(known) if known else None)
    resources: list[dict] = []
    resources.extend(_document_resources(user=user, concepts=concepts, difficulty=difficulty, limit=limit))
    for source in resource_sources:  # the student's flashcards (assessments registers them)
        resources.extend(source(user=user, concepts=concepts, difficulty=difficulty))
    return resources[:limit]


def _document_resources(*, user, concepts: list[str], difficulty: str, limit: int) -> list[dict]:
    found: dict[str, dict] = {}
    for concept in concepts[:5]:
        try:
            # The student's own documents only (not every course document they can see).
            passages = retrieve(user=user, query=concept, k=5, include_course_context=False)
        except Exception:  # retrieval outages must not break a list of suggestions
            logger.warning("Resource suggestions: retrieval for %r failed; concept skipped", concept, exc_info=True)
            continue
        for p in passages:
            doc_id = str(getattr(p, "document_id", "") or "")
            if not doc_id:
                continue
            row = found.setdefault(
                doc_id,
                {
                    "type": "document",
                    "title": getattr(p, "document_title", "") or getattr(p, "title", "") or "Document",
                    "url": (
                        f"/api/v1/courses/{p.course_id}/documents/{doc_id}/"
                        if getattr(p, "course_id", None)
                        else f"/api/v1/knowledge/documents/{doc_id}/"
                    ),
                    "document_id": doc_id,
                    "matched_concepts": [],
                    "snippets": [],
                    "difficulty": difficulty,
                    "_words": 0,
                },
            )
            if concept not in row["matched_concepts"]:
                row["matched_concepts"].append(concept)
            text = getattr(p, "text", "") or ""
            row["_words"] += len(text.split())
            if len(row["snippets"]) < 2:
                row["snippets"].append(text[:240])
    rows = sorted(found.values(), key=lambda r: -len(r["matched_concepts"]))[:limit]
    for row in rows:
        # Reading time of the matching passages at ~200 words a minute.
        row["estimated_time"] = f"{max(1, round(row.pop('_words') / 200))} minutes"
    return rows


def goal_resources(*, goal: LearningGoal) -> list[dict]:
    concepts = list(goal.key_concepts or []) or [goal.title]
    return resources_for_concepts(user=goal.study_plan.user, concepts=concepts)


# --- the chatbot dialect: progress and personal recommendations -----------------------------------
def progress_summary(*, user) -> dict:
    """Per-subject, per-topic progress from the learner model, plus goal progress."""
    states = sorted(learner_topic_states(user=user).values(), key=lambda s: (s.subject or "", s.topic))
    subjects: dict[str, list] = {}
    for state in states:
        subjects.setdefault(state.subject or "General", []).append(state)
    graded = [s for s in states if s.graded_events]
    goals = list(LearningGoal.objects.filter(study_plan__user=user).only("status", "progress_percentage"))

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 3) if values else None

    return {
        "overall_mastery": mean([s.mastery for s in graded]),
        "topics_tracked": len(states),
        "study_minutes_total": round(sum(s.study_seconds for s in states) / 60, 1),
        "subjects": [
            {
                "subject": name,
                "mastery": mean([s.mastery for s in rows if s.graded_events]),
                "topics": [s.as_dict() for s in rows],
            }
            for name, rows in subjects.items()
        ],
        "goals": {
            "total": len(goals),
            "completed": sum(g.status == LearningGoal.Status.COMPLETED for g in goals),
            "average_progress": round(sum(g.progress_percentage for g in goals) / len(goals), 1) if goals else None,
        },
    }


STALE_AFTER_DAYS = 14


def personal_recommendations(*, user, limit: int = 5) -> dict:
    """Resources from the student's own knowledge base for weak topics, then for strong-but-stale
    topics (not practised for STALE_AFTER_DAYS) so they are not forgotten."""
    now = timezone.now()
    states = [s for s in learner_topic_states(user=user).values() if s.graded_events]
    weak = sorted((s for s in states if s.mastery < WEAK_THRESHOLD), key=lambda s: s.mastery)
    stale = sorted(
        (s for s in states if s.mastery >= WEAK_THRESHOLD and s.last_activity and now - s.last_activity > timedelta(days=STALE_AFTER_DAYS)),
        key=lambda s: s.last_activity,
    )
    picks = [(s, "weak") for s in weak] + [(s, "stale") for s in stale]
    out = []
    for state, why in picks[:limit]:
        reason = (
            f"Your mastery of {state.topic} is {round(state.mastery * 100)}% from {state.graded_events} graded activities"
            if why == "weak"
            else f"You have not practised {state.topic} for {(now - state.last_activity).days} days"
        )
        out.append(
            {
                "topic": state.topic,
                "subject": state.subject,
                "mastery": round(state.mastery, 3),
                "reason": reason,
                "priority": "high" if why == "weak" and state.mastery < 0.4 else "medium",
                "suggested_difficulty": difficulty_for_mastery(state.mastery),
                "resources": resources_for_concepts(user=user, concepts=[state.topic], limit=3),
            }
        )
    return {"weak_topics": [{"topic": s.topic, "mastery": round(s.mastery, 3)} for s in weak[:limit]], "recommendations": out}
