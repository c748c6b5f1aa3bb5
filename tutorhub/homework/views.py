"""Homework API (canonical, and the school dialect's paths, which are the same): assignments,
handing in work of every kind, the caller's submissions, the teacher's review, the files."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.core.files import file_download_schema, serve_private_file, wants_inline
from tutorhub.core.parsers import JSONParser  # depth-limited (JSON_MAX_DEPTH)
from tutorhub.core.uploads import refuse_oversized_body
from tutorhub.courses.audio import CONTENT_TYPES as AUDIO_TYPES
from tutorhub.courses.selectors import lesson_list_visible
from tutorhub.courses.views.common import ID_BOUNDS, require_teaching
from tutorhub.homework import selectors, services
from tutorhub.homework.models import Homework, HomeworkSubmission
from tutorhub.homework.serializers import (
    HomeworkReviewSerializer,
    HomeworkSerializer,
    HomeworkSubmissionDetailSerializer,
    HomeworkSubmissionSerializer,
    HomeworkSubmitSerializer,
    HomeworkUpdateSerializer,
    HomeworkWorkSerializer,
)


class HomeworkFilter(filters.FilterSet):
    student = filters.NumberFilter(
        field_name="lesson__group__students__id", distinct=True, help_text="Homework assigned to this student", **ID_BOUNDS
    )
    group = filters.NumberFilter(field_name="lesson__group_id", **ID_BOUNDS)

    class Meta:
        model = Homework
        fields = ["lesson", "student", "group"]


class HomeworkViewSet(viewsets.ModelViewSet):
    lookup_value_regex = r"\d+"
    queryset = Homework.objects.none()
    filterset_class = HomeworkFilter
    search_fields = ["title", "description"]
    ordering_fields = ["created_at", "due_date"]

    def get_serializer_class(self):
        return HomeworkUpdateSerializer if self.action in {"update", "partial_update"} else HomeworkSerializer

    def _target_student_id(self) -> int | None:
        raw = self.request.query_params.get("student")
        if raw and raw.isdigit() and int(raw) <= ID_BOUNDS["max_value"]:
            return int(raw)
        return self.request.user.pk

    def get_queryset(self):
        user = self.request.user
        lesson = None
        if "lesson_id" in self.kwargs:
            lesson = get_object_or_404(lesson_list_visible(user=user), pk=self.kwargs["lesson_id"])
        return selectors.homework_list_for_api(user=user, target_student_id=self._target_student_id(), lesson=lesson)

    def perform_create(self, serializer):
        lesson = serializer.validated_data.pop("lesson")  # one the caller can see (the serializer's field)
        require_teaching(self.request.user, lesson.group)
        serializer.instance = services.homework_create(
            lesson=lesson, created_by=self.request.user, data=serializer.validated_data
        )

    def perform_update(self, serializer):
        require_teaching(self.request.user, serializer.instance.lesson.group)
        serializer.instance = services.homework_update(homework=serializer.instance, data=serializer.validated_data)

    def perform_destroy(self, instance):
        require_teaching(self.request.user, instance.lesson.group)
        services.homework_delete(homework=instance)

    @extend_schema(
        request={"multipart/form-data": HomeworkSubmitSerializer, "application/json": HomeworkSubmitSerializer},
        responses={202: HomeworkSubmissionSerializer},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser, JSONParser])
    def submit(self, request, pk=None):
        """Hand in a recording (`audio_submission`) or written work (`text` and/or `file`)."""
        # Before parsing, by the larger (recordings') limit; the service holds a written file to its own.
        refuse_oversized_body(request, settings.HOMEWORK_AUDIO_MAX_BYTES, "audio file")
        payload = HomeworkSubmitSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        submission = services.homework_submit(
            homework=self.get_object(), student=request.user,
            audio=data.get("audio_submission"), upload=data.get("file"), text=data.get("text", ""),
        )
        return Response(HomeworkSubmissionSerializer(submission).data, status=status.HTTP_202_ACCEPTED)

    def get_throttles(self):
        # Only the upload counts against the "uploads" limit; other homework calls use the user rate.
        self.throttle_scope = "uploads" if self.action == "submit" else None
        return super().get_throttles()

    @extend_schema(responses=HomeworkSubmissionSerializer)
    @action(detail=True, methods=["get"])
    def submission(self, request, pk=None):
        """The caller's own submission (or ?student='s): poll its status and progress_percentage."""
        homework = self.get_object()
        sub = get_object_or_404(
            selectors.submission_list_visible(user=request.user), homework=homework, student_id=self._target_student_id()
        )
        return Response(HomeworkSubmissionSerializer(sub).data)

    # Named apart from HomeworkSubmissionViewSet's list, whose default operationId is the same.
    @extend_schema(operation_id="homework_assignment_submissions_list", responses=HomeworkSubmissionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def submissions(self, request, pk=None):
        homework = self.get_object()
        page = self.paginate_queryset(selectors.submission_list_for_api(user=request.user, homework=homework))
        return self.get_paginated_response(HomeworkSubmissionSerializer(page, many=True).data)

    @extend_schema(request=HomeworkReviewSerializer, responses=HomeworkSubmissionSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        homework = self.get_object()
        require_teaching(request.user, homework.lesson.group)
        payload = HomeworkReviewSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        submission = selectors.submission_for_review(
            homework=homework, student_id=data.get("student"), submission_id=data.get("submission")
        )
        submission = services.homework_review(
            submission=submission, reviewer=request.user, status=data["status"], feedback=data["feedback"]
        )
        return Response(HomeworkSubmissionSerializer(submission).data)


class HomeworkSubmissionViewSet(viewsets.ReadOnlyModelViewSet):
    """Every submission the caller may see, of every kind (written, file, recording); POST hands
    in work of one's own (not for an assignment: that is `homework/{id}/submit/`), which gets AI
    feedback in the background; `{id}/check/` asks again for a check that failed."""

    lookup_value_regex = r"\d+"
    queryset = HomeworkSubmission.objects.none()  # the schema's model; get_queryset scopes to the caller
    serializer_class = HomeworkSubmissionDetailSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filterset_fields = ["kind", "status", "homework"]
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return selectors.submission_list_for_api(user=self.request.user)

    def get_throttles(self):
        self.throttle_scope = "uploads" if self.action == "create" else None
        return super().get_throttles()

    @extend_schema(request={"multipart/form-data": HomeworkWorkSerializer, "application/json": HomeworkWorkSerializer},
                   responses={201: HomeworkSubmissionDetailSerializer})
    def create(self, request, *args, **kwargs):
        refuse_oversized_body(request, settings.HOMEWORK_MAX_UPLOAD_BYTES)  # before parsing
        payload = HomeworkWorkSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        submission = services.homework_submit(student=request.user, upload=data.pop("file", None), **data)
        return Response(self.get_serializer(submission).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: HomeworkSubmissionDetailSerializer})
    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        submission = get_object_or_404(selectors.submission_list_own(user=request.user), pk=pk)
        submission, queued = services.homework_check_retry(submission=submission)
        return Response(self.get_serializer(submission).data, status=status.HTTP_202_ACCEPTED if queued else status.HTTP_200_OK)


class HomeworkSubmissionAudioView(APIView):
    """A submission's recording, for whoever may see the submission (the student, their
    parents, the group's teacher, admins); anyone else gets 404 as for the submission."""

    @file_download_schema(operation_id="homework_submission_audio")
    def get(self, request, pk: int):
        submission = get_object_or_404(selectors.recording_list_visible(user=request.user), pk=pk)
        fmt = submission.audio_format
        return serve_private_file(
            request, submission.file, filename=f"homework-{submission.homework_id}-{submission.student_id}.{fmt}",
            content_type=AUDIO_TYPES.get(fmt), inline=True,
        )


class HomeworkFileView(APIView):
    """The file handed in as written work, by the submission's uuid, for whoever may see the
    submission; sent as an attachment unless it is audio or an image."""

    @file_download_schema(operation_id="assessments_homework_file")
    def get(self, request, pk):
        submission = get_object_or_404(selectors.submission_list_visible(user=request.user), uuid=pk)
        return serve_private_file(request, submission.file, filename=submission.file_name, inline=wants_inline(request))
