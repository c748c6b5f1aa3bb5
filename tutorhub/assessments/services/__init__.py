"""Assessment use cases, split by sub-domain: flashcards, quizzes, generation (AI)."""

from tutorhub.assessments.services.flashcards import (
    flashcard_create,
    flashcard_delete,
    flashcard_review,
    flashcard_update,
    scheduler_settings_update,
)
from tutorhub.assessments.services.generation import (
    assessment_create,
    assessment_delete,
    assessment_generate_content,
    assessment_generate_later,
    assessment_generation_begin,
    generation_is_large,
    quiz_generate_for_topic,
)
from tutorhub.assessments.services.quizzes import (
    attempt_complete,
    attempt_response_submit,
    attempt_start,
    question_create,
    quiz_create,
    quiz_delete,
    quiz_submit_answers,
    quiz_update,
)

__all__ = [
    "assessment_create",
    "assessment_delete",
    "assessment_generate_content",
    "assessment_generate_later",
    "assessment_generation_begin",
    "attempt_complete",
    "attempt_response_submit",
    "attempt_start",
    "flashcard_create",
    "flashcard_delete",
    "flashcard_review",
    "flashcard_update",
    "generation_is_large",
    "question_create",
    "quiz_create",
    "quiz_delete",
    "quiz_generate_for_topic",
    "quiz_submit_answers",
    "quiz_update",
    "scheduler_settings_update",
]
