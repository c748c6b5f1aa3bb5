"""The learner model: per student and topic, a mastery estimate from LearnerEvent rows.

Method (evidence-weighted Beta estimate with a recency decay and a study-time prior):

* Every graded event (flashcard review, quiz answer, homework) is one observation of the
  score s in [0, 1]. Its weight is  w = KIND_WEIGHT[kind] * 0.5 ** (age_days / HALF_LIFE_DAYS):
  homework is stronger evidence than one quiz answer, which is stronger than one flashcard
  recall; old evidence fades so a student who has since improved is not held back.
* The prior is a Beta-like pseudo-observation of strength PRIOR_STRENGTH whose mean rises
  with study time on the topic (time on task predicts some learning before any test):
      prior_mean = 0.3 + 0.3 * (1 - exp(-study_hours / 5))
* mastery = (PRIOR_STRENGTH * prior_mean + sum(w * s)) / (PRIOR_STRENGTH + sum(w))
  confidence = sum(w) / (sum(w) + PRIOR_STRENGTH)  -- how much the estimate rests on evidence.
* A topic with no events at all has no estimate (None), not an invented 0.5.

Consumers: study-plan recommendations, quiz generation difficulty (assessments calls
learner_mastery / learner_weak_topics / learner_difficulty), progress and weekly reports.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from tutorhub.learning.models import LearnerEvent

HALF_LIFE_DAYS = 30.0
PRIOR_STRENGTH = 2.0
KIND_WEIGHT = {
    LearnerEvent.Kind.FLASHCARD_REVIEW: 0.6,
    LearnerEvent.Kind.QUIZ_ANSWER: 1.0,
    LearnerEvent.Kind.HOMEWORK: 2.0,
}
WEAK_THRESHOLD = 0.6
STRONG_THRESHOLD = 0.8
# Bound the rows read per student: older evidence has decayed to < 1/1000 of its weight.
HISTORY_DAYS = 365


@dataclass
class TopicMastery:
    topic: str
    subject: str = ""
    mastery: float | None = None
    confidence: float = 0.0
    graded_events: int = 0
    study_seconds: int = 0
    last_activity: datetime | None = None
    kinds: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "topic": self.topic,
            "subject": self.subject,
            "mastery": None if self.mastery is None else round(self.mastery, 3),
            "confidence": round(self.confidence, 3),
            "evidence_count": self.graded_events,
            "study_minutes": round(self.study_seconds / 60, 1),
            "last_activity": self.last_activity,
            "activity": dict(self.kinds),
        }


def _prior_mean(study_seconds: int) -> float:
    return 0.3 + 0.3 * (1 - math.exp(-(study_seconds / 3600) / 5))


def mastery_from_events(events: Iterable, *, now: datetime | None = None) -> dict[str, TopicMastery]:
    """Fold events (LearnerEvent or any object with kind/topic/score/...) into per-topic estimates.

    Pure: the same events at the same `now` give the same answer; events after `now` are ignored
    (so trends can ask what the model said N days ago).
    """
    now = now or timezone.now()
    acc: dict[str, dict] = defaultdict(lambda: {"w": 0.0, "ws": 0.0, "n": 0, "study": 0, "last": None, "kinds": defaultdict(int), "subject": ""})
    for ev in events:
        if ev.occurred_at > now:
            continue
        a = acc[ev.topic]
        a["kinds"][ev.kind] += 1
        a["subject"] = a["subject"] or ev.subject
        if a["last"] is None or ev.occurred_at > a["last"]:
            a["last"] = ev.occurred_at
        a["study"] += ev.duration_seconds or 0
        weight = KIND_WEIGHT.get(ev.kind)
        if weight is None or ev.score is None:
            continue
        age_days = max(0.0, (now - ev.occurred_at).total_seconds() / 86400)
        w = weight * 0.5 ** (age_days / HALF_LIFE_DAYS)
        a["w"] += w
        a["ws"] += w * ev.score
        a["n"] += 1
    result: dict[str, TopicMastery] = {}
    for topic, a in acc.items():
        prior = _prior_mean(a["study"])
        mastery = (PRIOR_STRENGTH * prior + a["ws"]) / (PRIOR_STRENGTH + a["w"])
        result[topic] = TopicMastery(
            topic=topic,
            subject=a["subject"],
            mastery=mastery,
            confidence=a["w"] / (a["w"] + PRIOR_STRENGTH),
            graded_events=a["n"],
            study_seconds=a["study"],
            last_activity=a["last"],
            kinds=dict(a["kinds"]),
        )
    return result


def _events(user, topics: list[str] | None = None, now: datetime | None = None):
    now = now or timezone.now()
    qs = LearnerEvent.objects.filter(user=user, occurred_at__gte=now - timezone.timedelta(days=HISTORY_DAYS))
    if topics is not None:
        qs = qs.filter(topic__in=topics)
    return qs.only("kind", "topic", "subject", "score", "duration_seconds", "occurred_at")


def learner_topic_states(*, user, topics: list[str] | None = None, now: datetime | None = None) -> dict[str, TopicMastery]:
    """Every topic the student has evidence for (or only `topics`), keyed by normalised topic."""
    from tutorhub.learning.services import normalize_topic

    wanted = None if topics is None else [t for t in {normalize_topic(t) for t in topics} if t]
    if wanted == []:
        return {}
    return mastery_from_events(_events(user, wanted, now), now=now)


def learner_mastery(*, user, topic: str) -> float | None:
    """Mastery 0..1 of one topic, or None when the student has no evidence on it."""
    from tutorhub.learning.services import normalize_topic

    state = learner_topic_states(user=user, topics=[topic]).get(normalize_topic(topic))
    return None if state is None else state.mastery


def learner_weak_topics(*, user, limit: int = 5) -> list[TopicMastery]:
    """Graded topics below WEAK_THRESHOLD, weakest first (ties: more evidence first)."""
    states = [s for s in learner_topic_states(user=user).values() if s.graded_events and s.mastery < WEAK_THRESHOLD]
    states.sort(key=lambda s: (s.mastery, -s.graded_events, s.topic))
    return states[:limit]


def learner_strong_topics(*, user, limit: int = 5) -> list[TopicMastery]:
    states = [s for s in learner_topic_states(user=user).values() if s.graded_events and s.mastery >= STRONG_THRESHOLD]
    states.sort(key=lambda s: (-s.mastery, -s.graded_events, s.topic))
    return states[:limit]


def difficulty_for_mastery(mastery: float | None) -> str:
    """The question difficulty that stretches a student at this mastery (unknown -> medium)."""
    if mastery is None:
        return "medium"
    if mastery < 0.45:
        return "easy"
    if mastery < STRONG_THRESHOLD:
        return "medium"
    return "hard"


def learner_difficulty(*, user, topic: str) -> str:
    """"easy" | "medium" | "hard" for quiz/flashcard generation on `topic`."""
    return difficulty_for_mastery(learner_mastery(user=user, topic=topic))
