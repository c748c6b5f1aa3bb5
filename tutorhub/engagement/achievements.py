"""Achievement definitions: each is a target on one metric of student_activity_stats()."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AchievementDefinition:
    code: str
    title: str
    description: str
    metric: str  # a key of engagement.selectors.student_activity_stats()
    target: float
    coins: int = 0


DEFINITIONS: tuple[AchievementDefinition, ...] = (
    AchievementDefinition("first_lesson", "First lesson", "Attended your first lesson.", "lessons_attended", 1, 2),
    AchievementDefinition("lessons_10", "Regular", "Attended 10 lessons.", "lessons_attended", 10, 10),
    AchievementDefinition("attendance_streak_5", "On a roll", "Attended 5 lessons in a row.", "longest_attendance_streak", 5, 10),
    AchievementDefinition("attendance_streak_20", "Unstoppable", "Attended 20 lessons in a row.", "longest_attendance_streak", 20, 30),
    AchievementDefinition("first_homework", "First homework", "Had a homework approved.", "homeworks_approved", 1, 5),
    AchievementDefinition("homework_10", "Homework hero", "Had 10 homeworks approved.", "homeworks_approved", 10, 20),
    AchievementDefinition(
        "perfect_pronunciation", "Perfect pronunciation", "An approved speaking homework scored 95% or more.",
        "best_similarity", 0.95, 10,
    ),
    AchievementDefinition("coins_100", "Coin collector", "Earned 100 coins in total.", "coins_earned", 100, 0),
)
