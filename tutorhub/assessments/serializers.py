from __future__ import annotations

from rest_framework import serializers

from tutorhub.assessments.models import (
    Assessment,
    Difficulty,
    Flashcard,
    FlashcardReview,
    Question,
    Quiz,
    QuizAttempt,
    QuizResponse,
    SchedulerSettings,
)
from tutorhub.assessments.schedulers import ALGORITHM_CHOICES
from tutorhub.assessments.selectors import item_source
from tutorhub.core.serializers import BuiltFieldsCacheMixin, ScopedPrimaryKeyRelatedField
from tutorhub.courses.models import Course
from tutorhub.courses.selectors import course_list_visible


class VisibleCourseField(ScopedPrimaryKeyRelatedField):
    """A course id the caller can see; anyone else's course is reported as not existing."""

    def __init__(self, **kwargs):
        kwargs.setdefault("selector", course_list_visible)
        kwargs.setdefault("model", Course)
        super().__init__(**kwargs)


# --- flashcards ------------------------------------------------------------------------------
class FlashcardSerializer(BuiltFieldsCacheMixin, serializers.ModelSerializer):
    course = VisibleCourseField(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=20)
    mastery_level = serializers.CharField(read_only=True)
    source = serializers.SerializerMethodField()

    class Meta:
        model = Flashcard
        fields = [
            "id", "course", "question", "answer", "explanation", "difficulty_level", "tags", "status",
            "next_review_date", "success_rate", "total_reviews", "correct_reviews", "interval_days", "ease_factor",
            "lapses", "last_reviewed_at", "scheduler", "mastery_level", "assessment", "confidence", "source",
            "created_at", "updated_at",
        ]
        read_only_fields = [
            "id", "next_review_date", "success_rate", "total_reviews", "correct_reviews", "interval_days",
            "ease_factor", "lapses", "last_reviewed_at", "scheduler", "mastery_level", "assessment", "confidence",
            "created_at", "updated_at",
        ]
        extra_kwargs = {"question": {"max_length": 4000}, "answer": {"max_length": 8000}, "explanation": {"max_length": 8000}}

    def get_source(self, obj) -> dict | None:
        return item_source(obj)


class FlashcardReviewInputSerializer(serializers.Serializer):
    quality_response = serializers.IntegerField(min_value=0, max_value=5)
    response_time_seconds = serializers.IntegerField(min_value=0, max_value=86_400, required=False, allow_null=True)
    user_answer = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class FlashcardReviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = FlashcardReview
        fields = [
            "id", "quality_response", "fsrs_rating", "response_time_seconds", "user_answer", "notes", "scheduler",
            "elapsed_days", "interval_days", "next_review_date", "reviewed_at",
        ]


class FlashcardDueQuerySerializer(serializers.Serializer):
    course = serializers.UUIDField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=500, required=False)


class CountSerializer(serializers.Serializer):
    difficulty_level = serializers.CharField()
    count = serializers.IntegerField()


class MasteryCountSerializer(serializers.Serializer):
    level = serializers.CharField()
    count = serializers.IntegerField()


class FlashcardStatsSerializer(serializers.Serializer):
    total_flashcards = serializers.IntegerField()
    active_flashcards = serializers.IntegerField()
    due_flashcards = serializers.IntegerField()
    mastered_flashcards = serializers.IntegerField()
    average_success_rate = serializers.FloatField()
    by_difficulty = CountSerializer(many=True)
    by_mastery = MasteryCountSerializer(many=True)


class SchedulerSettingsSerializer(serializers.ModelSerializer):
    course = VisibleCourseField(required=False, allow_null=True)
    algorithm = serializers.ChoiceField(choices=ALGORITHM_CHOICES)
    desired_retention = serializers.FloatField(min_value=0.7, max_value=0.99, required=False)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)  # null until first saved

    class Meta:
        model = SchedulerSettings
        fields = ["course", "algorithm", "desired_retention", "updated_at"]
        read_only_fields = ["updated_at"]
        validators = []  # update_or_create in the service handles the uniqueness


# --- quizzes -----------------------------------------------------------------------------------
class QuizSerializer(BuiltFieldsCacheMixin, serializers.ModelSerializer):
    course = VisibleCourseField(required=False, allow_null=True)
    question_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Quiz
        fields = [
            "id", "owner", "course", "title", "description", "subject", "topic", "quiz_type", "time_limit_minutes",
            "passing_score", "max_attempts", "randomize_questions", "show_results_immediately", "is_generated",
            "ai_model_used", "assessment", "question_count", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "owner", "is_generated", "ai_model_used", "assessment", "created_at", "updated_at"]
        extra_kwargs = {"time_limit_minutes": {"min_value": 1, "max_value": 1440}, "max_attempts": {"min_value": 1, "max_value": 100}}


class OptionInputSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=500)
    is_correct = serializers.BooleanField(default=False)


class QuestionInputSerializer(serializers.Serializer):
    question_text = serializers.CharField(max_length=4000)
    question_type = serializers.ChoiceField(choices=Question.Type.choices, default=Question.Type.MULTIPLE_CHOICE)
    points = serializers.IntegerField(min_value=1, max_value=1000, default=1)
    options = OptionInputSerializer(many=True, required=False, max_length=12)
    explanation = serializers.CharField(required=False, allow_blank=True, max_length=8000, default="")
    correct_text = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    concept = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class OptionPublicSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    text = serializers.CharField()


class OptionAuthorSerializer(OptionPublicSerializer):
    is_correct = serializers.BooleanField()


class QuestionPublicSerializer(serializers.ModelSerializer):
    """What a quiz taker sees: no correctness, no explanation, no accepted answer."""

    options = OptionPublicSerializer(many=True, read_only=True)

    class Meta:
        model = Question
        fields = ["id", "question_text", "question_type", "points", "order", "options"]


class QuestionAuthorSerializer(serializers.ModelSerializer):
    options = OptionAuthorSerializer(many=True, read_only=True)
    source = serializers.SerializerMethodField()

    class Meta:
        model = Question
        fields = [
            "id", "question_text", "question_type", "points", "order", "options", "explanation", "correct_text",
            "concept", "source",
        ]

    def get_source(self, obj) -> dict | None:
        return item_source(obj)


class AttemptStartSerializer(serializers.Serializer):
    attempt_id = serializers.UUIDField(source="id")
    quiz_id = serializers.UUIDField()
    started_at = serializers.DateTimeField()
    deadline = serializers.DateTimeField(allow_null=True)
    time_limit_minutes = serializers.IntegerField(source="quiz.time_limit_minutes", allow_null=True)
    questions_order = serializers.ListField(child=serializers.UUIDField())
    status = serializers.CharField()
    attempt_number = serializers.IntegerField()
    questions = QuestionPublicSerializer(many=True)


class ResponseInputSerializer(serializers.Serializer):
    question = serializers.UUIDField()
    selected_options = serializers.ListField(child=serializers.UUIDField(), required=False, default=list, max_length=12)
    text_answer = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    time_spent_seconds = serializers.IntegerField(required=False, min_value=0, max_value=86_400, default=0)


class ResponseSavedSerializer(serializers.ModelSerializer):
    """An answer as stored: never its grade while the attempt runs."""

    class Meta:
        model = QuizResponse
        fields = ["question", "selected_options", "text_answer", "time_spent_seconds", "updated_at"]


class DetailedResultSerializer(serializers.Serializer):
    question_id = serializers.UUIDField()
    question = serializers.CharField()
    question_type = serializers.CharField()
    user_answer = serializers.CharField(allow_blank=True)
    correct_answer = serializers.CharField(required=False)
    is_correct = serializers.BooleanField(required=False)
    points_earned = serializers.FloatField(required=False)
    points_possible = serializers.IntegerField()
    explanation = serializers.CharField(required=False, allow_blank=True)
    concept = serializers.CharField(required=False, allow_blank=True)
    source = serializers.DictField(required=False, allow_null=True)


class AttemptResultSerializer(serializers.Serializer):
    attempt_id = serializers.UUIDField()
    quiz_id = serializers.UUIDField()
    status = serializers.CharField()
    score = serializers.FloatField()
    max_score = serializers.FloatField()
    percentage_score = serializers.FloatField()
    passed = serializers.BooleanField()
    started_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField()
    time_taken_minutes = serializers.FloatField()
    timed_out = serializers.BooleanField()
    correct_answers = serializers.IntegerField()
    total_questions = serializers.IntegerField()
    results_visible = serializers.BooleanField()
    detailed_results = DetailedResultSerializer(many=True)


class QuizAttemptSerializer(serializers.ModelSerializer):
    quiz_title = serializers.CharField(source="quiz.title", read_only=True)

    class Meta:
        model = QuizAttempt
        fields = [
            "id", "quiz", "quiz_title", "user", "status", "started_at", "deadline", "completed_at", "score", "max_score",
            "percentage_score", "passed", "correct_answers", "total_questions", "timed_out",
        ]


# --- generation ------------------------------------------------------------------------------
class AssessmentSerializer(serializers.ModelSerializer):
    course = VisibleCourseField(required=False, allow_null=True)
    progress_percentage = serializers.IntegerField(source="progress", read_only=True)

    class Meta:
        model = Assessment
        fields = [
            "id", "title", "description", "topic", "course", "status", "progress_percentage", "error", "request",
            "result", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "status", "progress_percentage", "error", "request", "result", "created_at", "updated_at"]


class GenerateContentSerializer(serializers.Serializer):
    topic = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    content = serializers.CharField(required=False, allow_blank=True, max_length=20_000, default="")
    document_ids = serializers.ListField(child=serializers.UUIDField(), required=False, default=list, max_length=20)
    use_adaptive = serializers.BooleanField(required=False, default=False)
    flashcard_count = serializers.IntegerField(required=False, min_value=0, max_value=100, default=10)
    quiz_questions = serializers.IntegerField(required=False, min_value=0, max_value=100, default=10)
    difficulty_level = serializers.ChoiceField(choices=Difficulty.choices, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if not attrs["flashcard_count"] and not attrs["quiz_questions"]:
            raise serializers.ValidationError("Ask for at least one flashcard or quiz question.")
        return attrs


class GenerationStartedSerializer(serializers.Serializer):
    message = serializers.CharField()
    assessment_id = serializers.UUIDField()
    status = serializers.CharField()
    progress_percentage = serializers.IntegerField()


class GenerationResultSerializer(serializers.Serializer):
    message = serializers.CharField()
    assessment_id = serializers.UUIDField()
    status = serializers.CharField()
    generated_content = serializers.DictField()
    agent_metadata = serializers.DictField()
    ai_model_used = serializers.CharField()


# --- the chatbot dialect --------------------------------------------------------------------------
class ChatbotQuizGenerateSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    topic = serializers.CharField(max_length=200)
    count = serializers.IntegerField(min_value=1, max_value=30, required=False, default=5)


class ChatbotQuizSubmitSerializer(serializers.Serializer):
    quiz_id = serializers.UUIDField(required=False)
    answers = serializers.ListField(
        child=serializers.CharField(allow_blank=True, max_length=1000, allow_null=True), max_length=200
    )


class ChatbotQuizSubmitResultSerializer(serializers.Serializer):
    score = serializers.FloatField()
    feedback = serializers.CharField()
    correct = serializers.ListField(child=serializers.CharField())
    wrong = serializers.ListField(child=serializers.CharField())
    attempt_id = serializers.UUIDField()
    passed = serializers.BooleanField()

