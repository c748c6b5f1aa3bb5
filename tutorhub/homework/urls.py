"""Paths relative to /api/v1/ (the school dialect uses the same ones)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from tutorhub.homework import views

router = SimpleRouter()
router.register("homework/submissions", views.HomeworkSubmissionViewSet, basename="homework-submission")
router.register("homework", views.HomeworkViewSet, basename="homework")

urlpatterns = [
    path(
        "homework/submissions/<int:pk>/audio/", views.HomeworkSubmissionAudioView.as_view(), name="homework-submission-audio"
    ),
    path("homework/lesson/<int:lesson_id>/", views.HomeworkViewSet.as_view({"get": "list"}), name="homework-by-lesson"),
    # Written work's file, by the uuid its link has carried since it was the chatbot dialect's own.
    path("assessments/homework/<uuid:pk>/file/", views.HomeworkFileView.as_view(), name="homework-file"),
    *router.urls,
]
