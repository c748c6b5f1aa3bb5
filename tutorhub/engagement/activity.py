"""Activity that achievements and group leaderboards count, contributed by the apps that record it.

Attendance (courses) and approved homework (homework) sit above engagement: they award coins and
send notifications through it. Each registers an ActivitySource from its AppConfig.ready, so
engagement reads their figures without importing them (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from tutorhub.core.registry import Registry


@dataclass(frozen=True)
class ActivitySource:
    # student -> {metric: value}: figures achievements are defined on (achievements.DEFINITIONS).
    student_metrics: Callable[[Any], dict[str, float]]
    # group -> {leaderboard column: rows with a `student` foreign key}, counted per student.
    leaderboard_counts: Callable[[Any], dict[str, QuerySet]]


activity_sources: Registry[ActivitySource] = Registry()
