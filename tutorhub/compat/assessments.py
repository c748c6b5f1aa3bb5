"""The chatbot dialect's quiz and homework loop (paths outside /api/v1/), on the assessments services."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.assessments import selectors, services
from tutorhub.assessments.serializers import (
    HomeworkFeedbackSerializer,
    HomeworkUploadSerializer,
    Seed000QuizGenerateSerializer,
    Seed000QuizSubmitResultSerializer,
    Seed000QuizSubmitSerializer,
)
from tutorhub.core.parsers import JSONParser  # depth-limited (JSON_MAX_DEPTH)
from tutorhub.core.uploads import refuse_oversized_body

Seed000Question = inline_serializer(
    "Seed000Question",
    {
        "id": serializers.UUIDField(),
        "q": serializers.CharField(),
        "options": serializers.ListField(child=serializers.CharField()),
        "correct": serializers.CharField(),
        "concept": serializers.CharField(),
        "explanation": serializers.CharField(),
        "source": serializers.DictField(allow_null=True),
    },
)


class QuizGenerateView(APIView):
    throttle_scope = "ai_generation"

    @extend_schema(
        request=Seed000QuizGenerateSerializer,
        responses={201: inline_serializer("Seed000Quiz", {
            "quiz_id": serializers.UUIDField(), "title": serializers.CharField(),
            "questions": Seed000Question, "ai_model_used": serializers.CharField(),
            "requested": serializers.IntegerField(), "generated": serializers.IntegerField(),
            "shortfall_reason": serializers.CharField(allow_null=True),
        })},
    )
    def post(self, request):
        params = Seed000QuizGenerateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        quiz, items, counts = services.quiz_generate_for_topic(user=request.user, **params.validated_data)
        return Response(
            {
                "quiz_id": str(quiz.pk),
                "title": quiz.title,
                "questions": [
                    {"id": i["id"], "q": i["question_text"], "options": i["options"], "correct": i["correct_answer"],
                     "concept": i["concept"], "explanation": i["explanation"], "source": i["source"]}
                    for i in items
                ],
                "ai_model_used": quiz.ai_model_used,
                **counts,  # requested, generated, shortfall_reason: fewer questions than asked is said
            },
            status=status.HTTP_201_CREATED,
        )


class QuizSubmitView(APIView):
    @extend_schema(
        operation_id="quiz_submit", request=Seed000QuizSubmitSerializer, responses=Seed000QuizSubmitResultSerializer
    )
    def post(self, request, quiz_id=None):
        params = Seed000QuizSubmitSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        quiz_id = quiz_id or params.validated_data.get("quiz_id")
        if quiz_id is None:
            raise serializers.ValidationError({"quiz_id": ["This field is required."]})
        quiz = get_object_or_404(selectors.quiz_list_visible(user=request.user), pk=quiz_id)
        attempt = services.quiz_submit_answers(user=request.user, quiz=quiz, answers=params.validated_data["answers"])
        correct, wrong = selectors.attempt_concepts(attempt=attempt)
        return Response(Seed000QuizSubmitResultSerializer({
            "score": attempt.percentage_score,
            "feedback": selectors.attempt_feedback_text(attempt=attempt, wrong=wrong),
            "correct": correct,
            "wrong": wrong,
            "attempt_id": attempt.pk,
            "passed": bool(attempt.passed),
        }).data)


class QuizSubmitByIdView(QuizSubmitView):
    @extend_schema(
        operation_id="quiz_submit_by_id", request=Seed000QuizSubmitSerializer, responses=Seed000QuizSubmitResultSerializer
    )
    def post(self, request, quiz_id=None):
        return super().post(request, quiz_id=quiz_id)


class HomeworkUploadView(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    throttle_scope = "uploads"

    @extend_schema(request=HomeworkUploadSerializer, responses={201: HomeworkFeedbackSerializer})
    def post(self, request):
        # Before the body is parsed: homework's limit is far below the global upload limit.
        refuse_oversized_body(request, settings.HOMEWORK_MAX_UPLOAD_BYTES)
        params = HomeworkUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        submission = services.homework_submit(user=request.user, upload=data.pop("file", None), **data)
        submission.refresh_from_db()
        body = HomeworkFeedbackSerializer(submission).data
        body["message"] = "Homework uploaded; feedback is being prepared."
        return Response(body, status=status.HTTP_201_CREATED)


class HomeworkFeedbackView(APIView):
    @extend_schema(responses=HomeworkFeedbackSerializer)
    def get(self, request, pk):
        submission = get_object_or_404(selectors.homework_list(user=request.user), pk=pk)
        return Response(HomeworkFeedbackSerializer(submission).data)

    @extend_schema(request=None, responses={202: HomeworkFeedbackSerializer})
    def post(self, request, pk):
        """Ask again for feedback that failed (e.g. the AI model was unreachable)."""
        submission = get_object_or_404(selectors.homework_list(user=request.user), pk=pk)
        if submission.status != submission.Status.FAILED:  # done, or already being prepared
            return Response(HomeworkFeedbackSerializer(submission).data)
        submission = services.homework_feedback_retry(submission=submission)
        return Response(HomeworkFeedbackSerializer(submission).data, status=status.HTTP_202_ACCEPTED)


urlpatterns = [
    path("api/quiz/generate/", QuizGenerateView.as_view(), name="seed000-quiz-generate"),
    path("api/quiz/submit/", QuizSubmitView.as_view(), name="seed000-quiz-submit"),
    path("api/quiz/<uuid:quiz_id>/submit/", QuizSubmitByIdView.as_view(), name="seed000-quiz-submit-id"),
    path("api/homework/upload/", HomeworkUploadView.as_view(), name="seed000-homework-upload"),
    path("api/homework/<uuid:pk>/feedback/", HomeworkFeedbackView.as_view(), name="seed000-homework-feedback"),
]
