from django.contrib import admin

from tutorhub.homework.models import Homework, HomeworkSubmission


@admin.register(Homework)
class HomeworkAdmin(admin.ModelAdmin):
    list_display = ["title", "lesson", "due_date", "coins_reward", "created_at"]
    search_fields = ["title"]
    raw_id_fields = ["lesson", "created_by"]


@admin.register(HomeworkSubmission)
class HomeworkSubmissionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "homework", "student", "status", "score", "similarity_score", "coins_awarded", "created_at"]
    list_filter = ["kind", "status", "audio_format"]
    search_fields = ["title"]
    raw_id_fields = ["homework", "student", "reviewed_by"]
    readonly_fields = ["uuid", "transcription", "similarity_score", "score", "ai_feedback", "ai_model_used", "coins_awarded"]
