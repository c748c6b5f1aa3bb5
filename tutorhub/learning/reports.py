"""Weekly reports for parents: facts computed from stored activity, written up through the LLM.

The facts (study time, quizzes, flashcards, homework, goals, strengths, weak topics) are computed
here; the model (or the offline template) only turns them into prose. A report is stored per
(parent, child, week) and rewritten only when its facts change, so polling it costs no tokens.
"""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from tutorhub.ai import ProviderError, llm
from tutorhub.billing.services import ai_spend_scope
from tutorhub.core.exceptions import ServiceUnavailable
from tutorhub.engagement.services import notification_create
from tutorhub.learning.analytics import activity_days, completed_sessions, day_start
from tutorhub.learning.learner_model import STRONG_THRESHOLD, WEAK_THRESHOLD, learner_topic_states
from tutorhub.learning.models import LearnerEvent, LearningGoal, WeeklyReport
from tutorhub.learning.selectors import user_today

logger = logging.getLogger(__name__)
FLASHCARD_RECALLED = 0.6  # a review scored >= 0.6 (SM-2 quality >= 3) counts as recalled
REPORT_MAX_TOKENS = 600


def _avg(values: list[float]) -> float | None:
    return round(100 * sum(values) / len(values), 1) if values else None


def weekly_report_facts(*, child, week_start: date, week_end: date) -> dict:
    start, end = day_start(child, week_start), day_start(child, week_end + timedelta(days=1))
    events = list(
        LearnerEvent.objects.filter(user=child, occurred_at__gte=start, occurred_at__lt=end).only(
            "kind", "score", "source", "duration_seconds"
        )
    )
    graded = {k: [e for e in events if e.kind == k and e.score is not None] for k in ("quiz_answer", "flashcard_review", "homework")}
    study_seconds = LearnerEvent.objects.filter(
        user=child, kind=LearnerEvent.Kind.STUDY, occurred_at__gte=start, occurred_at__lt=end
    ).aggregate(s=Sum("duration_seconds"))["s"] or 0
    states = [s for s in learner_topic_states(user=child).values() if s.graded_events]
    strengths = sorted((s for s in states if s.mastery >= STRONG_THRESHOLD), key=lambda s: -s.mastery)[:3]
    weak = sorted((s for s in states if s.mastery < WEAK_THRESHOLD), key=lambda s: s.mastery)[:3]
    goals = LearningGoal.objects.filter(study_plan__user=child, completed_at__gte=start, completed_at__lt=end)
    cards = graded["flashcard_review"]
    return {
        "child": {"id": child.pk, "name": child.get_full_name() or child.username},
        "period": {"start": week_start.isoformat(), "end": week_end.isoformat()},
        "study": {
            "minutes": round(study_seconds / 60),
            "sessions": len(completed_sessions(child, start, end)),
            "active_days": len([d for d in activity_days(user=child, since=week_start) if d <= week_end]),
        },
        "quizzes": {
            "answers": len(graded["quiz_answer"]),
            "quizzes": len({e.source for e in graded["quiz_answer"] if e.source}),
            "average_score": _avg([e.score for e in graded["quiz_answer"]]),
        },
        "flashcards": {
            "reviews": len(cards),
            "success_rate": _avg([1.0 if e.score >= FLASHCARD_RECALLED else 0.0 for e in cards]),
        },
        "homework": {"submitted": len(graded["homework"]), "average_score": _avg([e.score for e in graded["homework"]])},
        "goals_completed": list(goals.values_list("title", flat=True)[:10]),
        "strengths": [{"topic": s.topic, "mastery": round(s.mastery, 3)} for s in strengths],
        "weak_topics": [{"topic": s.topic, "mastery": round(s.mastery, 3)} for s in weak],
    }


def _write(*, parent, facts: dict) -> tuple[str, str]:
    messages = [
        {
            "role": "system",
            "content": "You write a short, warm weekly learning summary for a parent. Use only the facts given; "
            "name strengths and topics that need practice, and end with one concrete suggestion.",
        },
        {"role": "user", "content": json.dumps(facts, default=str)},
    ]
    try:
        with ai_spend_scope(user=parent, feature="reports", messages=messages, max_output_tokens=REPORT_MAX_TOKENS,
                            backend=llm["default"]):
            completion = llm["default"].complete(
                messages, task="weekly_report", context={"facts": facts}, max_tokens=REPORT_MAX_TOKENS
            )
    except ProviderError as exc:
        logger.warning("weekly report generation failed: %s", exc)
        raise ServiceUnavailable("The report writer is unavailable; try again shortly.") from exc
    text = (completion.text or "").strip()
    if not text:
        raise ServiceUnavailable("The report writer returned an empty report; try again shortly.")
    return text, completion.model


def report_children(*, user) -> list:
    """Whose reports a user may read: a parent's linked children; anyone else, themselves."""
    if getattr(user, "role", None) == "parent":
        return list(user.children.all().order_by("pk"))
    return [user]


def weekly_report_generate(*, parent, child, week_end: date | None = None) -> WeeklyReport:
    """The stored report for the 7 days ending `week_end` (default: today), rewritten only when
    its facts changed. Raises ServiceUnavailable if the LLM fails (an older report stays)."""
    week_end = week_end or user_today(parent)
    week_start = week_end - timedelta(days=6)
    facts = weekly_report_facts(child=child, week_start=week_start, week_end=week_end)
    existing = WeeklyReport.objects.filter(parent=parent, child=child, week_start=week_start).first()
    if existing and existing.facts == json.loads(json.dumps(facts, default=str)):
        return existing
    summary, model = _write(parent=parent, facts=facts)  # no DB transaction held open over the LLM call
    with transaction.atomic():
        report, _ = WeeklyReport.objects.update_or_create(
            parent=parent,
            child=child,
            week_start=week_start,
            defaults={"week_end": week_end, "facts": facts, "summary": summary, "ai_model_used": model},
        )
    return report


def weekly_reports_for(*, user, week_end: date | None = None) -> list[WeeklyReport]:
    return [weekly_report_generate(parent=user, child=c, week_end=week_end) for c in report_children(user=user)]


def weekly_reports_send_for_parent(*, parent) -> int:
    """Generate this week's report for each child and notify the parent (in-app and e-mail via
    the engagement channels). Returns how many were sent; a failed child is skipped, not fatal."""
    sent = 0
    for child in report_children(user=parent):
        try:
            report = weekly_report_generate(parent=parent, child=child)
        except ServiceUnavailable:
            continue
        if report.sent_at:
            continue
        with transaction.atomic():
            notification_create(
                user=parent,
                kind="weekly_report",
                title=f"Weekly report for {report.facts['child']['name']}",
                message=report.summary,
                data={"report_id": report.pk, "child_id": child.pk, "week_start": report.week_start.isoformat()},
            )
            report.sent_at = timezone.now()
            report.save(update_fields=["sent_at", "updated_at"])
        sent += 1
    return sent
