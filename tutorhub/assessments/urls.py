"""Paths relative to /api/v1/. The specific prefixes are registered before `assessments/`, whose
detail route only matches a UUID, so `assessments/flashcards/` can never be read as an id."""

from rest_framework.routers import SimpleRouter

from tutorhub.assessments import views

router = SimpleRouter()
router.register("assessments/flashcards", views.FlashcardViewSet, basename="flashcard")
router.register("assessments/quizzes", views.QuizViewSet, basename="quiz")
router.register("assessments/quiz-attempts", views.QuizAttemptViewSet, basename="quiz-attempt")
router.register("assessments", views.AssessmentViewSet, basename="assessment")

urlpatterns = [
    *router.urls,
]
