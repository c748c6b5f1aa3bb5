"""Offline "weekly_report": a parent's weekly summary written by template from computed facts.

The facts come from tutorhub.learning.reports.weekly_report_facts (context["facts"]); this
handler only puts them into sentences, so the summary never says more than the data does.
"""

from __future__ import annotations

from typing import Any

from tutorhub.ai.backends.offline import offline_task


def _pct(value: float | None) -> str:
    return f"{round(value)}%" if value is not None else "n/a"


def _topics(rows: list[dict]) -> str:
    return ", ".join(f"{r['topic']} ({_pct(r['mastery'] * 100)})" for r in rows)


@offline_task("weekly_report")
def weekly_report(messages: list[dict], context: dict[str, Any], opts: dict[str, Any]) -> str:
    f = context.get("facts") or {}
    name = (f.get("child") or {}).get("name") or "Your child"
    period = f.get("period") or {}
    study = f.get("study") or {}
    quizzes = f.get("quizzes") or {}
    cards = f.get("flashcards") or {}
    homework = f.get("homework") or {}
    lines = [f"Weekly report for {name} ({period.get('start', '?')} to {period.get('end', '?')})."]
    minutes = study.get("minutes") or 0
    if minutes or study.get("sessions"):
        lines.append(
            f"{name} studied for {minutes / 60:.1f} hours in {study.get('sessions', 0)} session(s), "
            f"active on {study.get('active_days', 0)} of 7 days."
        )
    else:
        lines.append(f"{name} logged no study time this week.")
    if quizzes.get("answers"):
        lines.append(
            f"Quizzes: {quizzes['answers']} question(s) answered across {quizzes.get('quizzes', 0)} quiz(zes), "
            f"average score {_pct(quizzes.get('average_score'))}."
        )
    if cards.get("reviews"):
        lines.append(f"Flashcards: {cards['reviews']} review(s), recalled {_pct(cards.get('success_rate'))} correctly.")
    if homework.get("submitted"):
        lines.append(f"Homework: {homework['submitted']} graded piece(s), average {_pct(homework.get('average_score'))}.")
    if f.get("goals_completed"):
        lines.append("Goals completed: " + "; ".join(f["goals_completed"]) + ".")
    if f.get("strengths"):
        lines.append("Strengths: " + _topics(f["strengths"]) + ".")
    if f.get("weak_topics"):
        lines.append("Needs practice: " + _topics(f["weak_topics"]) + ".")
        lines.append(f"Suggestion: a short review of {f['weak_topics'][0]['topic']} a few times next week.")
    elif not (quizzes.get("answers") or cards.get("reviews") or homework.get("submitted")):
        lines.append("There were no graded activities this week, so no strengths or weak topics can be named yet.")
    return "\n".join(lines)
