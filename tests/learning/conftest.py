from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tutorhub.learning.models import LearningGoal, StudyPlan, StudySession
from tutorhub.learning.services import learner_event_record


def make_event(user, kind="quiz_answer", topic="fractions", score=None, days_ago=0.0, subject="Mathematics", duration=0):
    return learner_event_record(
        user=user, kind=kind, topic=topic, subject=subject, score=score, duration_seconds=duration,
        occurred_at=timezone.now() - dt.timedelta(days=days_ago),
    )


def make_session(user, *, started_at, minutes, rating=None, plan=None, topics=()):
    return StudySession.objects.create(
        user=user, study_plan=plan, status="completed", started_at=started_at,
        ended_at=started_at + dt.timedelta(minutes=minutes), duration_minutes=minutes,
        productivity_rating=rating, topics_covered=list(topics),
    )


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def plan(user, today):
    return StudyPlan.objects.create(
        user=user, title="Calculus Mastery Plan", start_date=today - dt.timedelta(days=10),
        end_date=today + dt.timedelta(days=20), study_hours_per_week=10,
    )


@pytest.fixture
def make_goal(plan):
    def _make(title="Goal", **kw):
        prereqs = kw.pop("prerequisites", [])
        goal = LearningGoal.objects.create(study_plan=kw.pop("study_plan", plan), title=title, **kw)
        goal.prerequisites.set(prereqs)
        return goal

    return _make
