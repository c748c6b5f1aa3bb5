from django.contrib import admin

from tutorhub.assessments.models import (
    Assessment,
    Flashcard,
    FlashcardReview,
    Option,
    Question,
    Quiz,
    QuizAttempt,
    QuizResponse,
    SchedulerSettings,
)


@admin.register(Flashcard)
class FlashcardAdmin(admin.ModelAdmin):
    list_display = ["question", "user", "course", "status", "scheduler", "next_review_date", "total_reviews"]
    list_filter = ["status", "difficulty_level", "scheduler"]
    search_fields = ["question", "answer"]
    raw_id_fields = ["user", "course", "assessment", "source_chunk"]


@admin.register(FlashcardReview)
class FlashcardReviewAdmin(admin.ModelAdmin):
    list_display = ["flashcard", "user", "quality_response", "scheduler", "interval_days", "reviewed_at"]
    raw_id_fields = ["flashcard", "user"]


@admin.register(SchedulerSettings)
class SchedulerSettingsAdmin(admin.ModelAdmin):
    list_display = ["user", "course", "algorithm", "desired_retention"]
    raw_id_fields = ["user", "course"]


class OptionInline(admin.TabularInline):
    model = Option
    extra = 0


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ["question_text", "quiz", "question_type", "points"]
    inlines = [OptionInline]
    raw_id_fields = ["quiz", "source_chunk"]


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 0
    fields = ["question_text", "question_type", "points", "order"]


@admin.register(Quiz)
class QuizAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "course", "quiz_type", "is_generated", "created_at"]
    list_filter = ["quiz_type", "is_generated"]
    search_fields = ["title", "topic"]
    inlines = [QuestionInline]
    raw_id_fields = ["owner", "course", "assessment"]


class QuizResponseInline(admin.TabularInline):
    model = QuizResponse
    extra = 0
    raw_id_fields = ["question"]


@admin.register(QuizAttempt)
class QuizAttemptAdmin(admin.ModelAdmin):
    list_display = ["quiz", "user", "status", "percentage_score", "passed", "started_at"]
    list_filter = ["status"]
    inlines = [QuizResponseInline]
    raw_id_fields = ["quiz", "user"]


@admin.register(Assessment)
class AssessmentAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "status", "progress", "created_at"]
    list_filter = ["status"]
    raw_id_fields = ["owner", "course"]


@admin.register(Option)
class OptionAdmin(admin.ModelAdmin):
    list_display = ["text", "question", "is_correct"]
    raw_id_fields = ["question"]


@admin.register(QuizResponse)
class QuizResponseAdmin(admin.ModelAdmin):
    list_display = ["attempt", "question", "is_correct", "points_earned", "time_spent_seconds"]
    raw_id_fields = ["attempt", "question"]
