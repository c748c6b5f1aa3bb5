from django.urls import path
from rest_framework.routers import SimpleRouter

from tutorhub.courses import views

router = SimpleRouter()
# Registered before "courses": the Course detail route only matches UUIDs, so these stay reachable.
router.register("courses/groups", views.GroupViewSet, basename="group")
router.register("courses/schedules", views.ScheduleViewSet, basename="schedule")
router.register("courses", views.CourseViewSet, basename="course")
router.register("lessons", views.LessonViewSet, basename="lesson")
router.register("attendance", views.AttendanceViewSet, basename="attendance")
router.register("resources", views.LessonResourceViewSet, basename="lesson-resource")

urlpatterns = [
    path("lessons/group/<int:group_id>/", views.LessonViewSet.as_view({"get": "list"}), name="lessons-by-group"),
    path("gamification/leaderboard/<int:group_id>/", views.LeaderboardView.as_view(), name="leaderboard"),
    path(
        "resources/lesson/<int:lesson_id>/", views.LessonResourceViewSet.as_view({"get": "list"}), name="resources-by-lesson"
    ),
    *router.urls,
]
