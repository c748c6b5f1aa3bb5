from django.contrib import admin

from tutorhub.learning.models import (
    Feedback,
    GoalProgressEntry,
    LearnerEvent,
    LearningGoal,
    StudyPlan,
    StudySession,
    WeeklyReport,
)


@admin.register(LearnerEvent)
class LearnerEventAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "subject", "topic", "score", "duration_seconds", "occurred_at"]
    list_filter = ["kind"]
    search_fields = ["topic", "subject", "user__username"]
    raw_id_fields = ["user"]
    date_hierarchy = "occurred_at"


class GoalInline(admin.TabularInline):
    model = LearningGoal
    fields = ["title", "target_date", "estimated_hours", "priority", "progress_percentage", "status"]
    extra = 0
    show_change_link = True


@admin.register(StudyPlan)
class StudyPlanAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "status", "start_date", "end_date", "study_hours_per_week"]
    list_filter = ["status", "priority_level"]
    search_fields = ["title", "user__username"]
    raw_id_fields = ["user", "course"]
    inlines = [GoalInline]


@admin.register(LearningGoal)
class LearningGoalAdmin(admin.ModelAdmin):
    list_display = ["title", "study_plan", "status", "progress_percentage", "target_date"]
    list_filter = ["status"]
    search_fields = ["title"]
    raw_id_fields = ["study_plan"]
    filter_horizontal = ["prerequisites"]


@admin.register(GoalProgressEntry)
class GoalProgressEntryAdmin(admin.ModelAdmin):
    list_display = ["goal", "progress_percentage", "created_at"]
    raw_id_fields = ["goal", "session"]


@admin.register(StudySession)
class StudySessionAdmin(admin.ModelAdmin):
    list_display = ["user", "session_type", "status", "started_at", "duration_minutes", "productivity_rating"]
    list_filter = ["status", "session_type"]
    raw_id_fields = ["user", "study_plan"]
    date_hierarchy = "started_at"


@admin.register(WeeklyReport)
class WeeklyReportAdmin(admin.ModelAdmin):
    list_display = ["parent", "child", "week_start", "ai_model_used", "sent_at"]
    raw_id_fields = ["parent", "child"]
    readonly_fields = ["facts"]


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    """Where staff read user feedback: filter by type and status, mark it reviewed or resolved."""

    list_display = ["subject", "feedback_type", "user", "status", "has_screenshot", "created_at"]
    list_filter = ["feedback_type", "status", "created_at"]
    list_editable = ["status"]
    search_fields = ["subject", "message", "user__username", "user__email"]
    readonly_fields = ["user", "feedback_type", "subject", "message", "screenshot", "created_at"]
    date_hierarchy = "created_at"
    actions = ["mark_resolved"]

    @admin.display(boolean=True)
    def has_screenshot(self, obj) -> bool:
        return bool(obj.screenshot)

    @admin.action(description="Mark selected feedback as resolved")
    def mark_resolved(self, request, queryset):
        queryset.update(status=Feedback.Status.RESOLVED)
