"""Learning management services. The learner model is fed through learner_event_record."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from tutorhub.learning.models import LearnerEvent


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
