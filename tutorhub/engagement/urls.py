from django.urls import path
from rest_framework.routers import SimpleRouter

from tutorhub.engagement import views

router = SimpleRouter()
router.register("notifications", views.NotificationViewSet, basename="notification")

urlpatterns = [
    path("notifications/preferences/me/", views.NotificationPreferenceView.as_view(), name="notification-preferences"),
    path("gamification/coins/me/", views.CoinsMeView.as_view(), name="coins-me"),
    path("gamification/achievements/me/", views.AchievementsView.as_view(), name="achievements-me"),
    path("gamification/achievements/<int:student_id>/", views.AchievementsView.as_view(), name="achievements"),
    *router.urls,
]
