"""The learner model on a scripted history: evidence, recency, kinds, study time, contracts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.learning.conftest import make_event
from tutorhub.learning.learner_model import (
    HALF_LIFE_DAYS,
    KIND_WEIGHT,
    PRIOR_STRENGTH,
    learner_difficulty,
    learner_mastery,
    learner_weak_topics,
    mastery_from_events,
)
from tutorhub.learning.services import learner_event_record

pytestmark = pytest.mark.django_db


def test_no_evidence_means_no_estimate(user):
    assert learner_mastery(user=user, topic="fractions") is None
    assert learner_weak_topics(user=user, limit=5) == []


def test_scripted_history_matches_the_documented_formula(user):
    # Two right quiz answers today, one wrong homework 30 days ago (one half-life).
    make_event(user, "quiz_answer", "Fractions", 1.0)
    make_event(user, "quiz_answer", "fractions", 1.0)
    make_event(user, "homework", "fractions", 0.0, days_ago=HALF_LIFE_DAYS)
    w_hw = KIND_WEIGHT["homework"] * 0.5
    expected = (PRIOR_STRENGTH * 0.3 + 2 * 1.0) / (PRIOR_STRENGTH + 2 + w_hw)
    assert learner_mastery(user=user, topic="FRACTIONS") == pytest.approx(expected, abs=1e-3)


def test_recent_evidence_outweighs_old(user):
    now = timezone.now()
    make_event(user, "quiz_answer", "algebra", 0.0, days_ago=90)
    make_event(user, "quiz_answer", "algebra", 0.0, days_ago=90)
    make_event(user, "quiz_answer", "algebra", 1.0, days_ago=1)
    make_event(user, "quiz_answer", "algebra", 1.0, days_ago=1)
    state = mastery_from_events(list(user.learner_events.all()), now=now)["algebra"]
    assert state.mastery > 0.6  # the two recent right answers dominate the older wrong ones
    # What the model said 60 days ago only saw the failures.
    past = mastery_from_events(list(user.learner_events.all()), now=now - dt.timedelta(days=60))["algebra"]
    assert past.mastery < 0.3


def test_homework_is_stronger_evidence_than_a_flashcard(user, other_user):
    make_event(user, "homework", "geometry", 1.0)
    make_event(other_user, "flashcard_review", "geometry", 1.0)
    assert learner_mastery(user=user, topic="geometry") > learner_mastery(user=other_user, topic="geometry")


def test_study_time_raises_the_prior_but_not_above_graded_evidence(user, other_user):
    make_event(user, "study", "limits", None, duration=5 * 3600)
    studied = learner_mastery(user=user, topic="limits")
    assert studied == pytest.approx(0.3 + 0.3 * (1 - 2.718281828 ** -1), abs=1e-3)
    make_event(other_user, "study", "limits", None, duration=60)
    assert learner_mastery(user=other_user, topic="limits") < studied


def test_weak_topics_sorted_weakest_first_and_difficulty_follows(user):
    for _ in range(8):
        make_event(user, "quiz_answer", "chain rule", 0.0)
        make_event(user, "quiz_answer", "product rule", 0.5)
        make_event(user, "quiz_answer", "power rule", 1.0)
    weak = learner_weak_topics(user=user, limit=5)
    assert [w.topic for w in weak] == ["chain rule", "product rule"]
    assert learner_difficulty(user=user, topic="chain rule") == "easy"
    assert learner_difficulty(user=user, topic="power rule") == "hard"
    assert learner_difficulty(user=user, topic="unknown topic") == "medium"
    assert len(learner_weak_topics(user=user, limit=1)) == 1


def test_event_record_contract(user):
    assert learner_event_record(user=user, kind="quiz_answer", topic="  ", score=1) is None
    ev = learner_event_record(user=user, kind="quiz_answer", topic="Chain_Rule", score=7, source="x:1")
    assert ev.topic == "chain rule" and ev.score == 1.0


def test_other_users_evidence_is_not_mixed_in(user, other_user):
    make_event(other_user, "quiz_answer", "fractions", 0.0)
    assert learner_mastery(user=user, topic="fractions") is None
