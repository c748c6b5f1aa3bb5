"""Course API views, split by sub-domain."""

from tutorhub.courses.views.attendance import AttendanceViewSet
from tutorhub.courses.views.groups import CourseViewSet, GroupViewSet, LessonViewSet, ScheduleViewSet
from tutorhub.courses.views.leaderboard import LeaderboardView
from tutorhub.courses.views.resources import LessonResourceViewSet

__all__ = [
    "AttendanceViewSet",
    "CourseViewSet",
    "GroupViewSet",
    "LeaderboardView",
    "LessonResourceViewSet",
    "LessonViewSet",
    "ScheduleViewSet",
]
