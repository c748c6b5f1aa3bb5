"""Learning management services. The learner model is fed through learner_event_record."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tutorhub.core.exceptions import Conflict
from tutorhub.learning import scheduling
from tutorhub.learning.models import (
    Feedback,
    GoalProgressEntry,
    LearnerEvent,
    LearningGoal,
    StudyPlan,
    StudySession,
)


def normalize_topic(topic: str) -> str:
    return " ".join((topic or "").replace("_", " ").split()).strip().lower()[:200]


def learner_event_record(
    *,
    user,
    kind: str,
    topic: str,
    score: float | None = None,
    subject: str = "",
    duration_seconds: int = 0,
    source: str = "",
    occurred_at: datetime | None = None,
) -> LearnerEvent | None:
    """Record evidence for the learner model. Contract for every activity:

    kind: one of LearnerEvent.Kind; topic: free text (normalised here); score: 0..1 or None
    for ungraded activity (study time); source: "app.Model:pk" of the activity row.
    Returns None (records nothing) when the topic is empty.
    """
    topic = normalize_topic(topic)
    if not topic:
        return None
    if score is not None:
        score = min(1.0, max(0.0, float(score)))
    return LearnerEvent.objects.create(
        user=user,
        kind=kind,
        topic=topic,
        subject=(subject or "").strip()[:120],
        score=score,
        duration_seconds=max(0, int(duration_seconds)),
        source=source[:100],
        occurred_at=occurred_at or timezone.now(),
    )


# --- study plans and goals -----------------------------------------------------------------
def _clean_concepts(values) -> list[str]:
    """Keep the client's spelling ("chain_rule"); topics are normalised where they are matched."""
    seen: dict[str, str] = {}
    for value in values or []:
        text = " ".join(str(value).split())[:100]
        if normalize_topic(text):
            seen.setdefault(normalize_topic(text), text)
    return list(seen.values())[:50]


@transaction.atomic
def study_plan_create(*, user, **fields) -> StudyPlan:
    plan = StudyPlan(user=user, **fields)
    plan.full_clean(exclude=["schedule"])
    plan.save()
    return plan


@transaction.atomic
def study_plan_update(*, plan: StudyPlan, **fields) -> StudyPlan:
    for name, value in fields.items():
        setattr(plan, name, value)
    plan.full_clean(exclude=["schedule"])
    plan.save()
    return plan


@transaction.atomic
def study_plan_delete(*, plan: StudyPlan) -> None:
    """Delete a plan with its goals (study sessions keep their time and lose the plan link)."""
    plan.delete()


def _set_prerequisites(goal: LearningGoal, prerequisites: list[LearningGoal]) -> None:
    for pre in prerequisites:
        if pre.study_plan_id != goal.study_plan_id:
            raise ValidationError({"prerequisites": ["Prerequisites must be goals of the same study plan."]})
        if pre.pk == goal.pk:
            raise ValidationError({"prerequisites": ["A goal cannot be its own prerequisite."]})
    goal.prerequisites.set(prerequisites)
    # A cycle makes a plan unschedulable, so refuse it when it is written, not later.
    goals = list(goal.study_plan.goals.prefetch_related("prerequisites"))
    scheduling._order([_goal_input(g) for g in goals])


@transaction.atomic
def goal_create(*, study_plan: StudyPlan, prerequisites: list[LearningGoal] | None = None, **fields) -> LearningGoal:
    fields["key_concepts"] = _clean_concepts(fields.get("key_concepts"))
    goal = LearningGoal(study_plan=study_plan, **fields)
    goal.full_clean()
    goal.save()
    if prerequisites:
        _set_prerequisites(goal, prerequisites)
    return goal


@transaction.atomic
def goal_update(*, goal: LearningGoal, prerequisites: list[LearningGoal] | None = None, **fields) -> LearningGoal:
    if "key_concepts" in fields:
        fields["key_concepts"] = _clean_concepts(fields["key_concepts"])
    # Progress changes only through goal_progress_update (it keeps the history trends read).
    for name, value in fields.items():
        setattr(goal, name, value)
    goal.full_clean()
    goal.save()
    if prerequisites is not None:
        _set_prerequisites(goal, prerequisites)
    return goal


@transaction.atomic
def goal_progress_update(
    *, goal: LearningGoal, progress_percentage: float, notes: str = "", session: StudySession | None = None
) -> LearningGoal:
    """Set a goal's progress (0..100), keep the history row, and derive its status."""
    progress = min(100.0, max(0.0, float(progress_percentage)))
    goal.progress_percentage = progress
    if notes:
        goal.notes = notes
    if progress >= 100:
        goal.status = LearningGoal.Status.COMPLETED
        goal.completed_at = goal.completed_at or timezone.now()
    else:
        goal.status = LearningGoal.Status.IN_PROGRESS if progress > 0 else LearningGoal.Status.NOT_STARTED
        goal.completed_at = None
    goal.save(update_fields=["progress_percentage", "notes", "status", "completed_at", "updated_at"])
    GoalProgressEntry.objects.create(goal=goal, progress_percentage=progress, notes=notes, session=session)
    return goal


@transaction.atomic
def goal_delete(*, goal: LearningGoal) -> None:
    goal.delete()


@transaction.atomic
def goal_complete(*, goal: LearningGoal) -> LearningGoal:
    if goal.status == LearningGoal.Status.COMPLETED:
        raise Conflict("This goal is already completed.")
    return goal_progress_update(goal=goal, progress_percentage=100)


def _goal_input(goal: LearningGoal) -> scheduling.GoalInput:
    return scheduling.GoalInput(
        id=str(goal.pk),
        title=goal.title,
        estimated_hours=goal.estimated_hours,
        progress_percentage=goal.progress_percentage,
        target_date=goal.target_date,
        priority=goal.priority,
        key_concepts=list(goal.key_concepts or []),
        prerequisites=[str(p.pk) for p in goal.prerequisites.all()],
        completed=goal.status == LearningGoal.Status.COMPLETED,
    )


@transaction.atomic
def study_plan_schedule_generate(
    *,
    plan: StudyPlan,
    hours_per_day: float | None = None,
    preferred_times: list[str] | None = None,
    include_weekends: bool = True,
    save_schedule: bool = False,
) -> dict:
    """Spread the plan's unfinished goals from max(today, start_date) to end_date (see scheduling).

    hours_per_day defaults to the plan's weekly hours over its study days. Saved schedules are
    kept on the plan (schedule, schedule_generated_at). Returns {"days", "unscheduled", ...}.
    """
    days_per_week = 7 if include_weekends else 5
    hours = hours_per_day if hours_per_day is not None else plan.study_hours_per_week / days_per_week
    start = max(timezone.localdate(), plan.start_date)
    goals = [_goal_input(g) for g in plan.goals.prefetch_related("prerequisites")]
    result = scheduling.generate_schedule(
        goals=goals,
        start=start,
        end=plan.end_date,
        hours_per_day=hours,
        preferred_times=preferred_times or ["evening"],
        include_weekends=include_weekends,
    )
    result["parameters"] = {
        "hours_per_day": hours,
        "preferred_times": preferred_times or ["evening"],
        "include_weekends": include_weekends,
    }
    if save_schedule:
        plan.schedule = result
        plan.schedule_generated_at = timezone.now()
        plan.save(update_fields=["schedule", "schedule_generated_at", "updated_at"])
    return result


# --- study sessions ------------------------------------------------------------------------
@transaction.atomic
def study_session_start(*, user, study_plan: StudyPlan | None = None, **fields) -> StudySession:
    fields["focus_areas"] = _clean_concepts(fields.get("focus_areas"))
    return StudySession.objects.create(user=user, study_plan=study_plan, started_at=timezone.now(), **fields)


@transaction.atomic
def study_session_complete(
    *,
    session: StudySession,
    productivity_rating: int | None = None,
    notes: str = "",
    topics_covered: list[str] | None = None,
    goals_worked_on: list[LearningGoal] | None = None,
    progress_updates: list[tuple[LearningGoal, float]] | None = None,
) -> StudySession:
    """End a session: duration from its clock times, goal progress applied, study time recorded
    as learner evidence (split evenly over the topics covered, or the focus areas)."""
    session = StudySession.objects.select_for_update().get(pk=session.pk)
    if session.status == StudySession.Status.COMPLETED:
        raise Conflict("This study session is already completed.")
    now = timezone.now()
    session.ended_at = now
    session.duration_minutes = round(max(0.0, (now - session.started_at).total_seconds() / 60), 2)
    session.status = StudySession.Status.COMPLETED
    session.productivity_rating = productivity_rating
    session.notes = notes
    session.topics_covered = _clean_concepts(topics_covered)
    session.save()
    goals = list(goals_worked_on or [])
    for goal, progress in progress_updates or []:
        goal_progress_update(goal=goal, progress_percentage=progress, session=session)
        goals.append(goal)
    if goals:
        session.goals_worked_on.add(*goals)
    topics = session.topics_covered or session.focus_areas
    seconds = int(session.duration_minutes * 60)
    subject = session.study_plan.course.subject_area if session.study_plan and session.study_plan.course else ""
    for topic in topics:
        learner_event_record(
            user=session.user,
            kind=LearnerEvent.Kind.STUDY,
            topic=topic,
            subject=subject,
            duration_seconds=seconds // len(topics),
            source=f"learning.StudySession:{session.pk}",
            occurred_at=now,
        )
    return session


@transaction.atomic
def study_session_delete(*, session: StudySession) -> None:
    """Delete a session and the study-time evidence it wrote, so the learner model forgets it too."""
    LearnerEvent.objects.filter(user=session.user, source=f"learning.StudySession:{session.pk}").delete()
    session.delete()


# --- feedback ------------------------------------------------------------------------------
@transaction.atomic
def feedback_create(
    *, user, subject: str, message: str, feedback_type: str = Feedback.FeedbackType.GENERAL, screenshot=None
) -> Feedback:
    return Feedback.objects.create(
        user=user, feedback_type=feedback_type, subject=subject, message=message, screenshot=screenshot
    )


@transaction.atomic
def feedback_review(*, feedback: Feedback, **fields) -> Feedback:
    """An admin's triage of feedback: status and notes only."""
    for name in ("status", "admin_notes"):
        if name in fields:
            setattr(feedback, name, fields[name])
    feedback.save(update_fields=["status", "admin_notes", "updated_at"])
    return feedback
