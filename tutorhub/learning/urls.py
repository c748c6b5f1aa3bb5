from django.urls import include, path
from rest_framework.routers import SimpleRouter

from tutorhub.learning import views

router = SimpleRouter()
router.register("learning/study-plans", views.StudyPlanViewSet, basename="study-plan")
router.register("learning/goals", views.LearningGoalViewSet, basename="learning-goal")
router.register("learning/study-sessions", views.StudySessionViewSet, basename="study-session")
router.register("learning/analytics", views.AnalyticsViewSet, basename="learning-analytics")
# The accounts app belongs to users; these two seed-001 paths are learning data, served from here.
router.register("accounts/feedback", views.FeedbackViewSet, basename="feedback")

urlpatterns = [
    path("accounts/dashboard/", views.AccountsDashboardView.as_view(), name="accounts-dashboard"),
    path("", include(router.urls)),
]
