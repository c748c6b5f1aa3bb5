"""Assessments: flashcards with their review log, quizzes with attempts, generation requests
(`Assessment`)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tutorhub.assessments.schedulers import ALGORITHM_CHOICES, DEFAULT_ALGORITHM, DEFAULT_DESIRED_RETENTION
from tutorhub.core.models import TimeStampedModel, UUIDModel

User = settings.AUTH_USER_MODEL


class Difficulty(models.TextChoices):
    EASY = "easy", "Easy"
    MEDIUM = "medium", "Medium"
    HARD = "hard", "Hard"


# --- generation requests -----------------------------------------------------------------
class Assessment(UUIDModel):
    """A named set of generated study material (the canonical API's `assessment_id`): one generation run
    fills it with flashcards and a quiz; `status`/`progress` let a client poll long runs."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="assessments")
    course = models.ForeignKey("courses.Course", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    topic = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    progress = models.PositiveSmallIntegerField(default=0, help_text="percent of the current generation run")
    request = models.JSONField(default=dict, blank=True, help_text="parameters of the last generation run")
    result = models.JSONField(default=dict, blank=True, help_text="response body of the last completed run")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


# --- flashcards ----------------------------------------------------------------------------
class Flashcard(UUIDModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="flashcards")
    course = models.ForeignKey("courses.Course", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    assessment = models.ForeignKey(Assessment, on_delete=models.SET_NULL, null=True, blank=True, related_name="flashcards")
    source_chunk = models.ForeignKey("knowledge.Chunk", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    question = models.TextField()
    answer = models.TextField()
    explanation = models.TextField(blank=True)
    difficulty_level = models.CharField(max_length=8, choices=Difficulty.choices, default=Difficulty.MEDIUM)
    tags = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    confidence = models.FloatField(null=True, blank=True, help_text="generator's confidence, for generated cards")

    # Scheduling. The seed's fields are columns (queried and filtered); each scheduler's own
    # memory of the card lives in scheduler_state[name].
    next_review_date = models.DateTimeField(null=True, blank=True)
    interval_days = models.FloatField(default=0)
    ease_factor = models.FloatField(default=2.5)
    total_reviews = models.PositiveIntegerField(default=0)
    correct_reviews = models.PositiveIntegerField(default=0)
    lapses = models.PositiveIntegerField(default=0)
    success_rate = models.FloatField(default=0)
    last_quality = models.PositiveSmallIntegerField(null=True, blank=True)
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    scheduler = models.CharField(max_length=8, choices=ALGORITHM_CHOICES, default=DEFAULT_ALGORITHM)
    scheduler_state = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "status", "next_review_date"])]

    def __str__(self) -> str:
        return self.question[:60]


class FlashcardReview(models.Model):
    """One review, kept whole so FSRS parameters can later be optimised per student."""

    flashcard = models.ForeignKey(Flashcard, on_delete=models.CASCADE, related_name="reviews")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    quality_response = models.PositiveSmallIntegerField(validators=[MaxValueValidator(5)])
    fsrs_rating = models.PositiveSmallIntegerField()
    response_time_seconds = models.PositiveIntegerField(null=True, blank=True)
    user_answer = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    scheduler = models.CharField(max_length=8, choices=ALGORITHM_CHOICES)
    elapsed_days = models.FloatField(null=True, blank=True, help_text="days since the previous review")
    interval_days = models.FloatField()
    next_review_date = models.DateTimeField()
    state_after = models.JSONField(default=dict)
    reviewed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-reviewed_at"]

    def __str__(self) -> str:
        return f"{self.flashcard_id} q={self.quality_response}"


class SchedulerSettings(TimeStampedModel):
    """Which scheduler a student uses: per course ("deck") when set, else the student's default."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey("courses.Course", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    algorithm = models.CharField(max_length=8, choices=ALGORITHM_CHOICES, default=DEFAULT_ALGORITHM)
    desired_retention = models.FloatField(
        default=DEFAULT_DESIRED_RETENTION, validators=[MinValueValidator(0.7), MaxValueValidator(0.99)]
    )

    class Meta:
        verbose_name_plural = "scheduler settings"
        constraints = [
            models.UniqueConstraint(fields=["user", "course"], name="scheduler_settings_user_course"),
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(course__isnull=True), name="scheduler_settings_user_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.course_id or 'default'} {self.algorithm}"


# --- quizzes ---------------------------------------------------------------------------------
class Quiz(UUIDModel):
    class Type(models.TextChoices):
        PRACTICE = "practice", "Practice"
        EXAM = "exam", "Exam"
        ASSESSMENT = "assessment", "Assessment"

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="quizzes")
    course = models.ForeignKey("courses.Course", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    assessment = models.ForeignKey(Assessment, on_delete=models.SET_NULL, null=True, blank=True, related_name="quizzes")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    subject = models.CharField(max_length=120, blank=True)
    topic = models.CharField(max_length=200, blank=True)
    quiz_type = models.CharField(max_length=12, choices=Type.choices, default=Type.PRACTICE)
    time_limit_minutes = models.PositiveIntegerField(null=True, blank=True)
    passing_score = models.PositiveSmallIntegerField(default=70, validators=[MaxValueValidator(100)])
    max_attempts = models.PositiveIntegerField(null=True, blank=True, help_text="empty = unlimited")
    randomize_questions = models.BooleanField(default=False)
    show_results_immediately = models.BooleanField(default=True)
    is_generated = models.BooleanField(default=False)
    ai_model_used = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name_plural = "quizzes"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class Question(UUIDModel):
    class Type(models.TextChoices):
        MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
        TRUE_FALSE = "true_false", "True/false"
        SHORT_ANSWER = "short_answer", "Short answer"

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="questions")
    source_chunk = models.ForeignKey("knowledge.Chunk", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    question_text = models.TextField()
    question_type = models.CharField(max_length=16, choices=Type.choices, default=Type.MULTIPLE_CHOICE)
    points = models.PositiveIntegerField(default=1)
    explanation = models.TextField(blank=True)
    correct_text = models.TextField(blank=True, help_text="accepted answer of a short-answer question")
    concept = models.CharField(max_length=200, blank=True, help_text="what the question tests (per-concept results)")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "created_at"]

    def __str__(self) -> str:
        return self.question_text[:60]


class Option(UUIDModel):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="options")
    text = models.CharField(max_length=500)
    is_correct = models.BooleanField(default=False)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return self.text[:60]


class QuizAttempt(UUIDModel):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="attempts")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="quiz_attempts")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    started_at = models.DateTimeField()
    deadline = models.DateTimeField(null=True, blank=True, help_text="started_at + time limit, fixed at start")
    completed_at = models.DateTimeField(null=True, blank=True)
    questions_order = models.JSONField(default=list)
    score = models.FloatField(null=True, blank=True, help_text="points earned")
    max_score = models.FloatField(null=True, blank=True)
    percentage_score = models.FloatField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    correct_answers = models.PositiveIntegerField(default=0)
    total_questions = models.PositiveIntegerField(default=0)
    timed_out = models.BooleanField(default=False)
    # The chatbot dialect's one-shot submit: a digest of the quiz's questions and the answers sent. The same
    # answers sent twice (double click, retried request) are one attempt by this unique key, not by
    # how the two requests happen to interleave. Empty for attempts started through the attempt API.
    submission_key = models.CharField(max_length=64, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["quiz", "user", "status"])]
        constraints = [
            # At most one running attempt per student and quiz (attempt_start returns it).
            models.UniqueConstraint(
                fields=["quiz", "user"], condition=models.Q(status="in_progress"), name="quiz_attempt_one_in_progress"
            ),
            models.UniqueConstraint(
                fields=["quiz", "user", "submission_key"],
                condition=~models.Q(submission_key=""),
                name="quiz_attempt_submission_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quiz_id} {self.user_id} {self.status}"


class QuizResponse(TimeStampedModel):
    attempt = models.ForeignKey(QuizAttempt, on_delete=models.CASCADE, related_name="responses")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    selected_options = models.JSONField(default=list, blank=True, help_text="option ids")
    text_answer = models.TextField(blank=True)
    time_spent_seconds = models.PositiveIntegerField(default=0)
    # Graded on completion, never before: nothing about correctness exists while the attempt runs.
    is_correct = models.BooleanField(null=True, blank=True)
    points_earned = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["attempt", "question"], name="quiz_response_once")]

    def __str__(self) -> str:
        return f"{self.attempt_id} {self.question_id}"
