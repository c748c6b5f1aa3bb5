from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from tutorhub.core.files import PrivateImageField
from tutorhub.core.serializers import OrderedDatesMixin
from tutorhub.core.uploads import upload_too_large
from tutorhub.courses.selectors import course_list_visible
from tutorhub.learning.models import Feedback, LearningGoal, StudyPlan, StudySession
from tutorhub.learning.scheduling import TIME_SLOTS

ConceptList = lambda **kw: serializers.ListField(  # noqa: E731
    child=serializers.CharField(max_length=100), max_length=50, required=False, **kw
)


def _user(serializer) -> object:
    return serializer.context["request"].user


class StudyPlanSerializer(OrderedDatesMixin, serializers.ModelSerializer):
    goals_total = serializers.IntegerField(read_only=True, default=0)
    goals_completed = serializers.IntegerField(read_only=True, default=0)
    study_hours_per_week = serializers.FloatField(min_value=0.25, max_value=168, required=False)

    class Meta:
        model = StudyPlan
        fields = [
            "id", "course", "title", "description", "start_date", "end_date", "study_hours_per_week",
            "priority_level", "status", "schedule", "schedule_generated_at", "goals_total", "goals_completed",
            "created_at", "updated_at",
        ]
        read_only_fields = ["schedule", "schedule_generated_at", "created_at", "updated_at"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            fields["course"].queryset = course_list_visible(user=request.user)
        return fields


class LearningGoalSerializer(serializers.ModelSerializer):
    key_concepts = ConceptList()
    prerequisites = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=50, write_only=True)
    estimated_hours = serializers.FloatField(min_value=0.25, max_value=1000, required=False)
    priority = serializers.IntegerField(min_value=1, max_value=5, required=False)

    class Meta:
        model = LearningGoal
        fields = [
            "id", "study_plan", "title", "description", "target_date", "estimated_hours", "priority",
            "key_concepts", "prerequisites", "progress_percentage", "status", "completed_at", "notes",
            "created_at", "updated_at",
        ]
        read_only_fields = ["progress_percentage", "status", "completed_at", "created_at", "updated_at"]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            fields["study_plan"].queryset = StudyPlan.objects.filter(user=request.user)
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["study_plan"].read_only = True
        return fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["prerequisites"] = [str(p.pk) for p in instance.prerequisites.all()]
        return data

    def validate_prerequisites(self, value):
        goals = list(LearningGoal.objects.filter(pk__in=value, study_plan__user=_user(self)))
        if len(goals) != len(set(value)):
            raise serializers.ValidationError("Unknown goal id.")
        return goals


class GoalProgressSerializer(serializers.Serializer):
    progress_percentage = serializers.FloatField(min_value=0, max_value=100)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class ScheduleRequestSerializer(serializers.Serializer):
    hours_per_day = serializers.FloatField(min_value=0.25, max_value=16, required=False)
    preferred_times = serializers.ListField(
        child=serializers.ChoiceField(choices=list(TIME_SLOTS)), required=False, max_length=len(TIME_SLOTS)
    )
    include_weekends = serializers.BooleanField(default=True)
    save_schedule = serializers.BooleanField(default=False)


class TimeSlotSerializer(serializers.Serializer):
    start = serializers.CharField()
    end = serializers.CharField()
    name = serializers.CharField()


class ScheduledSessionSerializer(serializers.Serializer):
    goal_id = serializers.CharField()
    goal_title = serializers.CharField()
    duration_hours = serializers.FloatField()
    time_slot = TimeSlotSerializer()
    focus_areas = serializers.ListField(child=serializers.CharField())
    target_date = serializers.DateField(allow_null=True)
    after_target_date = serializers.BooleanField()


class ScheduleDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    sessions = ScheduledSessionSerializer(many=True)
    total_hours = serializers.FloatField()


class RecommendationSerializer(serializers.Serializer):
    type = serializers.CharField()
    priority = serializers.CharField(help_text="high | medium | low")
    title = serializers.CharField()
    description = serializers.CharField()
    action = serializers.CharField()
    metadata = serializers.DictField()


class RecommendationsSerializer(serializers.Serializer):
    recommendations = RecommendationSerializer(many=True)


class ResourceSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField()
    estimated_time = serializers.CharField()
    difficulty = serializers.CharField()


class ResourcesSerializer(serializers.Serializer):
    resources = ResourceSerializer(many=True)


class StudySessionSerializer(serializers.ModelSerializer):
    focus_areas = ConceptList()
    learning_objectives = serializers.ListField(child=serializers.CharField(max_length=300), max_length=20, required=False)
    planned_duration_minutes = serializers.IntegerField(min_value=1, max_value=1440, required=False, allow_null=True)
    goals_worked_on = serializers.SerializerMethodField()

    class Meta:
        model = StudySession
        fields = [
            "id", "study_plan", "session_type", "status", "planned_duration_minutes", "focus_areas",
            "learning_objectives", "started_at", "ended_at", "duration_minutes", "productivity_rating", "notes",
            "topics_covered", "goals_worked_on", "created_at",
        ]
        read_only_fields = [
            "status", "started_at", "ended_at", "duration_minutes", "productivity_rating", "notes", "topics_covered",
            "created_at",
        ]

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            fields["study_plan"].queryset = StudyPlan.objects.filter(user=request.user)
        return fields

    def get_goals_worked_on(self, obj) -> list[str]:
        return [str(g.pk) for g in obj.goals_worked_on.all()]


class ProgressUpdateSerializer(serializers.Serializer):
    goal_id = serializers.UUIDField()
    progress_percentage = serializers.FloatField(min_value=0, max_value=100)


class SessionCompleteSerializer(serializers.Serializer):
    productivity_rating = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    topics_covered = ConceptList()
    goals_worked_on = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=50)
    progress_updates = ProgressUpdateSerializer(many=True, required=False)

    def validate(self, attrs):
        user = _user(self)
        ids = set(attrs.get("goals_worked_on") or []) | {u["goal_id"] for u in attrs.get("progress_updates") or []}
        goals = {g.pk: g for g in LearningGoal.objects.filter(pk__in=ids, study_plan__user=user)}
        if len(goals) != len(ids):
            raise serializers.ValidationError({"goals_worked_on": ["Unknown goal id."]})
        attrs["goals_worked_on"] = [goals[i] for i in attrs.get("goals_worked_on") or []]
        attrs["progress_updates"] = [(goals[u["goal_id"]], u["progress_percentage"]) for u in attrs.get("progress_updates") or []]
        return attrs


class StatsQuerySerializer(serializers.Serializer):
    start_date = serializers.DateField(required=False)
    end_date = serializers.DateField(required=False)


class DaysQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=365, default=30)


class WeeksQuerySerializer(serializers.Serializer):
    weeks = serializers.IntegerField(min_value=1, max_value=52, default=8)


class StreakSerializer(serializers.Serializer):
    current = serializers.IntegerField()
    longest = serializers.IntegerField()


class HourCountSerializer(serializers.Serializer):
    hour = serializers.IntegerField()
    count = serializers.IntegerField()
    avg_duration = serializers.FloatField(required=False)
    avg_productivity = serializers.FloatField(required=False)


class SessionStatsSerializer(serializers.Serializer):
    total_sessions = serializers.IntegerField()
    total_hours = serializers.FloatField()
    average_duration_minutes = serializers.FloatField()
    average_productivity = serializers.FloatField(allow_null=True)
    sessions_by_hour = HourCountSerializer(many=True)
    most_productive_hours = HourCountSerializer(many=True)
    current_streak = StreakSerializer()


class DeadlineSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    due_date = serializers.DateField()
    priority = serializers.CharField()


class AchievementSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    achieved_at = serializers.DateTimeField()


class AccountsDashboardSerializer(serializers.Serializer):
    study_streak = StreakSerializer()
    weekly_hours = serializers.FloatField()
    goals_completed_this_month = serializers.IntegerField()
    upcoming_deadlines = DeadlineSerializer(many=True)
    recent_achievements = AchievementSerializer(many=True)


class FeedbackSerializer(serializers.ModelSerializer):
    # Writes take an image; reads give the permission-checked download URL (uploads are private).
    screenshot = PrivateImageField(url_name="feedback-screenshot", required=False, allow_null=True)

    class Meta:
        model = Feedback
        fields = ["id", "feedback_type", "subject", "message", "screenshot", "status", "admin_notes", "created_at"]
        read_only_fields = ["status", "admin_notes", "created_at"]
        extra_kwargs = {"message": {"max_length": 10000}}

    def validate_screenshot(self, value):
        # DRF's ImageField already made Pillow open and verify the file; cap size and format too.
        if value is None:
            return value
        if value.size > settings.FEEDBACK_SCREENSHOT_MAX_BYTES:
            raise upload_too_large(settings.FEEDBACK_SCREENSHOT_MAX_BYTES, "screenshot")
        image_format = getattr(getattr(value, "image", None), "format", None)
        if image_format not in {"PNG", "JPEG", "GIF", "WEBP"}:
            raise serializers.ValidationError("The screenshot must be a PNG, JPEG, GIF or WebP image.")
        return value


class FeedbackAdminSerializer(serializers.ModelSerializer):
    class Meta:
        model = Feedback
        fields = ["status", "admin_notes"]


class WeeklyReportQuerySerializer(serializers.Serializer):
    week_end = serializers.DateField(required=False)

    def validate_week_end(self, value):
        # One day of slack: "today" differs between the server's and the parent's time zone.
        if value > timezone.localdate() + timedelta(days=1):
            raise serializers.ValidationError("The week cannot end in the future.")
        return value


class WeeklyReportSerializer(serializers.Serializer):
    child = serializers.SerializerMethodField()
    week_start = serializers.DateField()
    week_end = serializers.DateField()
    summary = serializers.CharField()
    facts = serializers.DictField()
    ai_model_used = serializers.CharField()
    generated_at = serializers.DateTimeField(source="updated_at")
    sent_at = serializers.DateTimeField(allow_null=True)

    def get_child(self, obj) -> dict:
        return {"id": obj.child_id, "username": obj.child.username, "name": obj.child.get_full_name() or obj.child.username}


# --- Output shapes of the analytics, dashboards and progress reads ------------------------------
# The selectors build these responses as plain dicts (cheap, and several views reshape them);
# these serializers declare their exact shape for the OpenAPI schema, and
# tests/learning/test_output_shapes.py checks real responses against them key by key.
class GoalRowSerializer(serializers.Serializer):
    """What every per-goal row of a progress or path read says about the goal."""

    id = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    progress_percentage = serializers.FloatField()
    target_date = serializers.DateField(allow_null=True)
    mastery = serializers.FloatField(allow_null=True, help_text="0..1 over the goal's key concepts; null without graded work")


class GoalProgressRowSerializer(GoalRowSerializer):
    expected_progress = serializers.FloatField(allow_null=True, help_text="Where the goal should be by today")
    is_overdue = serializers.BooleanField()
    estimated_hours = serializers.FloatField()


class StudyPlanProgressSerializer(serializers.Serializer):
    plan_id = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField(help_text="behind | on_track | ahead | completed")
    completion_rate = serializers.FloatField()
    expected_completion_rate = serializers.FloatField()
    total_goals = serializers.IntegerField()
    completed_goals = serializers.IntegerField()
    in_progress_goals = serializers.IntegerField()
    total_estimated_hours = serializers.FloatField()
    hours_studied = serializers.FloatField()
    days_elapsed = serializers.IntegerField()
    days_remaining = serializers.IntegerField()
    goals = GoalProgressRowSerializer(many=True)


class UpcomingDeadlineSerializer(DeadlineSerializer):
    id = serializers.CharField()
    study_plan = serializers.CharField()
    progress_percentage = serializers.FloatField()


class DashboardPlanSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    completion_rate = serializers.FloatField()
    expected_completion_rate = serializers.FloatField()
    end_date = serializers.DateField()
    goals_total = serializers.IntegerField()


class GoalCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    overdue = serializers.IntegerField()


class TopicMasterySerializer(serializers.Serializer):
    topic = serializers.CharField()
    mastery = serializers.FloatField()


class LearningDashboardSerializer(serializers.Serializer):
    active_plans = serializers.IntegerField()
    plans = DashboardPlanSerializer(many=True)
    goals = GoalCountsSerializer()
    study_hours_this_week = serializers.FloatField()
    sessions_this_week = serializers.IntegerField()
    study_streak = StreakSerializer()
    upcoming_deadlines = UpcomingDeadlineSerializer(many=True)
    todays_schedule = serializers.ListField(child=serializers.DictField(), help_text="Today's blocks of every plan's schedule")
    active_session = serializers.CharField(allow_null=True)
    weak_topics = TopicMasterySerializer(many=True)


class WeekActivitySerializer(serializers.Serializer):
    week = serializers.DateField(help_text="Monday of the week")
    count = serializers.IntegerField()
    hours = serializers.FloatField()
    goals_completed = serializers.IntegerField()


class VelocitySerializer(serializers.Serializer):
    current_velocity = serializers.FloatField(help_text="Hours per day studied in the window")
    target_velocity = serializers.FloatField(help_text="Hours per day the active plans ask for")
    velocity_ratio = serializers.FloatField(allow_null=True)
    status = serializers.CharField(help_text="ahead | on_track | behind | no_target")


class ProductivityPatternsSerializer(serializers.Serializer):
    best_hours = HourCountSerializer(many=True)
    peak_productivity_time = serializers.IntegerField(allow_null=True, help_text="Hour of day (0-23)")


class AdviceSerializer(serializers.Serializer):
    type = serializers.CharField()
    priority = serializers.CharField()
    message = serializers.CharField()
    suggestion = serializers.CharField()


class LearningOverviewSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    total_study_hours = serializers.FloatField()
    average_daily_hours = serializers.FloatField()
    total_sessions = serializers.IntegerField()
    goals_completed = serializers.IntegerField()
    completion_rate = serializers.FloatField()
    progress_by_week = WeekActivitySerializer(many=True)
    learning_velocity = VelocitySerializer()
    productivity_patterns = ProductivityPatternsSerializer()
    recommendations = AdviceSerializer(many=True)


class WeekScoresSerializer(serializers.Serializer):
    week = serializers.DateField()
    quiz_count = serializers.IntegerField()
    quiz_average = serializers.FloatField(allow_null=True)
    flashcards_count = serializers.IntegerField()
    flashcards_average = serializers.FloatField(allow_null=True)
    homework_count = serializers.IntegerField()
    homework_average = serializers.FloatField(allow_null=True)
    study_minutes = serializers.FloatField()
    average_mastery = serializers.FloatField(allow_null=True)


class TopicTrendSerializer(serializers.Serializer):
    topic = serializers.CharField()
    subject = serializers.CharField(allow_blank=True)
    mastery = serializers.FloatField()
    previous_mastery = serializers.FloatField(allow_null=True)
    change = serializers.FloatField(allow_null=True)
    trend = serializers.CharField(help_text="new | improving | stable | declining")
    evidence_count = serializers.IntegerField()


class PerformanceTrendsSerializer(serializers.Serializer):
    weeks = serializers.IntegerField()
    series = WeekScoresSerializer(many=True)
    topics = TopicTrendSerializer(many=True)
    overall_trend = serializers.CharField(allow_null=True)


class PathGoalSerializer(GoalRowSerializer):
    remaining_hours = serializers.FloatField()
    prerequisites = serializers.ListField(child=serializers.CharField())
    blocked_by = serializers.ListField(child=serializers.CharField())
    is_available = serializers.BooleanField()
    dependents_waiting = serializers.IntegerField()


class PathPlanSerializer(serializers.Serializer):
    plan_id = serializers.CharField()
    title = serializers.CharField()
    remaining_hours = serializers.FloatField()
    critical_path_hours = serializers.FloatField()
    recent_pace_hours_per_day = serializers.FloatField()
    projected_completion_date = serializers.DateField(allow_null=True)
    end_date = serializers.DateField()
    on_track = serializers.BooleanField(allow_null=True)
    next_goals = serializers.ListField(child=serializers.CharField())
    bottlenecks = serializers.ListField(child=serializers.CharField())
    goals = PathGoalSerializer(many=True)


class LearningPathAnalysisSerializer(serializers.Serializer):
    plans = PathPlanSerializer(many=True)


class TopicStateSerializer(serializers.Serializer):
    topic = serializers.CharField()
    subject = serializers.CharField(allow_blank=True)
    mastery = serializers.FloatField(allow_null=True)
    confidence = serializers.FloatField()
    evidence_count = serializers.IntegerField()
    study_minutes = serializers.FloatField()
    last_activity = serializers.DateTimeField(allow_null=True)
    activity = serializers.DictField(child=serializers.IntegerField(), help_text="Events per kind")


class SubjectProgressSerializer(serializers.Serializer):
    subject = serializers.CharField()
    mastery = serializers.FloatField(allow_null=True)
    topics = TopicStateSerializer(many=True)


class GoalSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    average_progress = serializers.FloatField(allow_null=True)


class ProgressSummarySerializer(serializers.Serializer):
    overall_mastery = serializers.FloatField(allow_null=True)
    topics_tracked = serializers.IntegerField()
    study_minutes_total = serializers.FloatField()
    subjects = SubjectProgressSerializer(many=True)
    goals = GoalSummarySerializer()


class TopicResourceSerializer(ResourceSerializer):
    """A resource plus what identifies it: a document's id, matched concepts and snippets, or
    the flashcards' ids."""

    document_id = serializers.CharField(required=False)
    matched_concepts = serializers.ListField(child=serializers.CharField(), required=False)
    snippets = serializers.ListField(child=serializers.CharField(), required=False)
    flashcard_ids = serializers.ListField(child=serializers.CharField(), required=False)


class PersonalRecommendationSerializer(serializers.Serializer):
    topic = serializers.CharField()
    subject = serializers.CharField(allow_blank=True)
    mastery = serializers.FloatField()
    reason = serializers.CharField()
    priority = serializers.CharField()
    suggested_difficulty = serializers.CharField()
    resources = TopicResourceSerializer(many=True)


class PersonalRecommendationsSerializer(serializers.Serializer):
    weak_topics = TopicMasterySerializer(many=True)
    recommendations = PersonalRecommendationSerializer(many=True)


class WeeklyReportsSerializer(serializers.Serializer):
    week_start = serializers.DateField(allow_null=True)
    week_end = serializers.DateField(allow_null=True)
    reports = WeeklyReportSerializer(many=True)
