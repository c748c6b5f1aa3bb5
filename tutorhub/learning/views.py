"""Learning management API (canonical API): study plans, goals, sessions, analytics, dashboards, feedback."""

from __future__ import annotations

import os

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.core.files import file_download_schema, serve_private_file
from tutorhub.core.parsers import JSONParser  # depth-limited (JSON_MAX_DEPTH)
from tutorhub.core.permissions import is_admin
from tutorhub.core.uploads import refuse_oversized_body
from tutorhub.learning import analytics, dashboards, selectors, services
from tutorhub.learning import reports as reports_service
from tutorhub.learning import serializers as s
from tutorhub.learning.models import Feedback, LearningGoal, StudyPlan, StudySession


class StudyPlanViewSet(viewsets.ModelViewSet):
    queryset = StudyPlan.objects.none()  # for the schema; requests use get_queryset
    serializer_class = s.StudyPlanSerializer
    permission_classes = [IsAuthenticated]
    filterset_fields = ["status", "priority_level", "course"]
    ordering_fields = ["created_at", "start_date", "end_date", "title"]

    def get_queryset(self):
        return selectors.study_plan_list(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.study_plan_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.study_plan_update(plan=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.study_plan_delete(plan=instance)

    @extend_schema(request=s.ScheduleRequestSerializer, responses=s.ScheduleDaySerializer(many=True))
    @action(detail=True, methods=["post"])
    def generate_schedule(self, request, pk=None):
        params = s.ScheduleRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        result = services.study_plan_schedule_generate(plan=self.get_object(), **params.validated_data)
        # The canonical API answers with the list of days; what did not fit is told in a header.
        unscheduled = sum(u["hours"] for u in result["unscheduled"])
        return Response(result["days"], headers={"X-Unscheduled-Hours": f"{unscheduled:g}"})

    @extend_schema(responses=s.StudyPlanProgressSerializer)
    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        return Response(selectors.study_plan_progress(plan=self.get_object()))

    @extend_schema(responses=s.RecommendationsSerializer)
    @action(detail=True, methods=["get"])
    def recommendations(self, request, pk=None):
        return Response({"recommendations": selectors.study_plan_recommendations(plan=self.get_object())})

    @extend_schema(responses=s.LearningDashboardSerializer)
    @action(detail=False, methods=["get"])
    def dashboard(self, request):
        return Response(dashboards.learning_dashboard(user=request.user))


class LearningGoalViewSet(viewsets.ModelViewSet):
    queryset = LearningGoal.objects.none()
    serializer_class = s.LearningGoalSerializer
    permission_classes = [IsAuthenticated]
    filterset_fields = ["study_plan", "status", "priority"]
    ordering_fields = ["created_at", "target_date", "priority", "progress_percentage"]

    def get_queryset(self):
        return selectors.goal_list(user=self.request.user)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.goal_create(prerequisites=data.pop("prerequisites", None), **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.goal_update(
            goal=serializer.instance, prerequisites=data.pop("prerequisites", None), **data
        )

    def perform_destroy(self, instance):
        services.goal_delete(goal=instance)

    @extend_schema(request=s.GoalProgressSerializer, responses=s.LearningGoalSerializer)
    @action(detail=True, methods=["post"])
    def update_progress(self, request, pk=None):
        params = s.GoalProgressSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        goal = services.goal_progress_update(goal=self.get_object(), **params.validated_data)
        return Response(self.get_serializer(goal).data)

    @extend_schema(request=None, responses=s.LearningGoalSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        goal = services.goal_complete(goal=self.get_object())
        return Response(self.get_serializer(goal).data)

    @extend_schema(responses=s.ResourcesSerializer)
    @action(detail=True, methods=["get"])
    def resources(self, request, pk=None):
        return Response({"resources": selectors.goal_resources(goal=self.get_object())})


class StudySessionViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = StudySession.objects.none()
    serializer_class = s.StudySessionSerializer
    permission_classes = [IsAuthenticated]
    filterset_fields = ["study_plan", "status", "session_type"]
    ordering_fields = ["started_at", "duration_minutes"]

    def get_queryset(self):
        return selectors.study_session_list(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.study_session_start(user=self.request.user, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.study_session_delete(session=instance)

    @extend_schema(request=s.SessionCompleteSerializer, responses=s.StudySessionSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        params = s.SessionCompleteSerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        session = services.study_session_complete(session=self.get_object(), **params.validated_data)
        return Response(self.get_serializer(session).data)

    @extend_schema(parameters=[s.StatsQuerySerializer], responses=s.SessionStatsSerializer)
    @action(detail=False, methods=["get"])
    def stats(self, request):
        params = s.StatsQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(analytics.study_session_stats(user=request.user, **params.validated_data))


class AnalyticsViewSet(viewsets.ViewSet):
    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[s.DaysQuerySerializer], responses=s.LearningOverviewSerializer)
    @action(detail=False, methods=["get"])
    def overview(self, request):
        params = s.DaysQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(analytics.learning_overview(user=request.user, **params.validated_data))

    @extend_schema(parameters=[s.WeeksQuerySerializer], responses=s.PerformanceTrendsSerializer)
    @action(detail=False, methods=["get"])
    def performance_trends(self, request):
        params = s.WeeksQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(analytics.performance_trends(user=request.user, **params.validated_data))

    @extend_schema(responses=s.LearningPathAnalysisSerializer)
    @action(detail=False, methods=["get"])
    def learning_path_analysis(self, request):
        return Response(analytics.learning_path_analysis(user=request.user))


class AccountsDashboardView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.AccountsDashboardSerializer)
    def get(self, request):
        return Response(dashboards.accounts_dashboard(user=request.user))


class FeedbackViewSet(
    mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """Users send feedback and read their own; admins read all and set status/notes."""

    queryset = Feedback.objects.none()

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filterset_fields = ["feedback_type", "status"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.feedback_list(user=self.request.user)

    def get_serializer_class(self):
        return s.FeedbackAdminSerializer if self.action == "partial_update" else s.FeedbackSerializer

    def get_throttles(self):
        # Screenshots are uploads: the upload limit applies to sending feedback.
        self.throttle_scope = "uploads" if self.action == "create" else None
        return super().get_throttles()

    def create(self, request, *args, **kwargs):
        refuse_oversized_body(request, settings.FEEDBACK_SCREENSHOT_MAX_BYTES, "screenshot")  # before parsing
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = services.feedback_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.feedback_review(feedback=serializer.instance, **serializer.validated_data)

    def update(self, request, *args, **kwargs):
        if not is_admin(request.user):
            raise exceptions.PermissionDenied()
        kwargs["partial"] = True
        return super().update(request, *args, **kwargs)

    @file_download_schema()
    @action(detail=True, methods=["get"])
    def screenshot(self, request, pk=None):
        """The feedback's screenshot, for its author and admins (the feedback's own visibility)."""
        feedback = self.get_object()
        return serve_private_file(
            request, feedback.screenshot, filename=f"feedback-{feedback.pk}-screenshot{os.path.splitext(feedback.screenshot.name)[1]}",
            inline=True,  # a verified PNG/JPEG/GIF/WebP image: shown, never run
        )


# --- the chatbot dialect (served at /api/progress/, /api/recommendations/, /api/reports/weekly/) ----
class ProgressView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.ProgressSummarySerializer)
    def get(self, request):
        return Response(selectors.progress_summary(user=request.user))


class PersonalRecommendationsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.PersonalRecommendationsSerializer)
    def get(self, request):
        return Response(selectors.personal_recommendations(user=request.user))


class WeeklyReportView(APIView):
    """A parent gets one report per linked child; a student gets their own."""

    permission_classes = [IsAuthenticated]
    throttle_scope = "ai_generation"

    @extend_schema(parameters=[s.WeeklyReportQuerySerializer], responses=s.WeeklyReportsSerializer)
    def get(self, request):
        params = s.WeeklyReportQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        reports = reports_service.weekly_reports_for(user=request.user, **params.validated_data)
        week = reports[0] if reports else None
        return Response(
            {
                "week_start": week.week_start if week else None,
                "week_end": week.week_end if week else None,
                "reports": s.WeeklyReportSerializer(reports, many=True).data,
            }
        )
