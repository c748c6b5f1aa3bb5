"""The chatbot dialect's learning paths: progress, personalised recommendations, parents' weekly reports."""

from django.urls import path

from tutorhub.learning import views

urlpatterns = [
    path("api/progress/", views.ProgressView.as_view(), name="compat-progress"),
    path("api/recommendations/", views.PersonalRecommendationsView.as_view(), name="compat-recommendations"),
    path("api/reports/weekly/", views.WeeklyReportView.as_view(), name="compat-weekly-report"),
]
