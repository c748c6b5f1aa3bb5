"""The chatbot dialect's homework paths (outside /api/v1/): written or uploaded work handed in on
the student's own, addressed by uuid, with AI feedback prepared in the background. The views are
the homework app's services and selectors; this module only gives the dialect its shape."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.core.parsers import JSONParser  # depth-limited (JSON_MAX_DEPTH)
from tutorhub.core.uploads import refuse_oversized_body
from tutorhub.homework import selectors, services
from tutorhub.homework.models import HomeworkSubmission
from tutorhub.homework.serializers import HomeworkWorkSerializer, WrittenFeedbackFields, submission_file_url

Status = HomeworkSubmission.Status


class HomeworkFeedbackSerializer(WrittenFeedbackFields, serializers.ModelSerializer):
    """The dialect knows three states: queued or being checked is "processing"; done is
    "completed"; "failed" (with `error`) can be asked for again."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    status = serializers.SerializerMethodField()
    feedback = serializers.CharField(source="ai_feedback", read_only=True)
    file_url = serializers.SerializerMethodField(help_text="The handed-in file (null for text-only homework)")
    error = serializers.CharField(source="processing_error", read_only=True)
    reviewed_at = serializers.DateTimeField(source="checked_at", read_only=True, help_text="When the feedback was ready")

    class Meta:
        model = HomeworkSubmission
        fields = [
            "id", "title", "subject", "topic", "file_name", "file_url", "status", "progress_percentage", "score", "feedback",
            "strengths", "improvements", "missing_concepts", "rubric", "sources", "ai_model_used", "error",
            "reviewed_at", "created_at",
        ]

    def get_status(self, obj) -> str:
        if obj.status in (Status.SUBMITTED, Status.PROCESSING):
            return "processing"
        return "failed" if obj.status == Status.FAILED else "completed"

    def get_file_url(self, obj) -> str | None:
        return submission_file_url(obj)


class HomeworkUploadView(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    throttle_scope = "uploads"

    @extend_schema(request=HomeworkWorkSerializer, responses={201: HomeworkFeedbackSerializer})
    def post(self, request):
        # Before the body is parsed: homework's limit is far below the global upload limit.
        refuse_oversized_body(request, settings.HOMEWORK_MAX_UPLOAD_BYTES)
        params = HomeworkWorkSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        submission = services.homework_submit(student=request.user, upload=data.pop("file", None), **data)
        body = HomeworkFeedbackSerializer(submission).data
        body["message"] = "Homework uploaded; feedback is being prepared."
        return Response(body, status=status.HTTP_201_CREATED)


class HomeworkFeedbackView(APIView):
    @extend_schema(responses=HomeworkFeedbackSerializer)
    def get(self, request, pk):
        submission = get_object_or_404(selectors.submission_list_own(user=request.user), uuid=pk)
        return Response(HomeworkFeedbackSerializer(submission).data)

    @extend_schema(request=None, responses={202: HomeworkFeedbackSerializer})
    def post(self, request, pk):
        """Ask again for feedback that failed (e.g. the AI model was unreachable)."""
        submission = get_object_or_404(selectors.submission_list_own(user=request.user), uuid=pk)
        submission, queued = services.homework_check_retry(submission=submission)
        return Response(HomeworkFeedbackSerializer(submission).data, status=status.HTTP_202_ACCEPTED if queued else status.HTTP_200_OK)


urlpatterns = [
    path("api/homework/upload/", HomeworkUploadView.as_view(), name="chatbot-homework-upload"),
    path("api/homework/<uuid:pk>/feedback/", HomeworkFeedbackView.as_view(), name="chatbot-homework-feedback"),
]
