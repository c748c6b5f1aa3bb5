"""The chatbot dialect's quiz loop (paths outside /api/v1/), on the assessments services."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.assessments import selectors, services
from tutorhub.assessments.serializers import (
    ChatbotQuizGenerateSerializer,
    ChatbotQuizSubmitResultSerializer,
    ChatbotQuizSubmitSerializer,
)

ChatbotQuizQuestion = inline_serializer(
    "ChatbotQuizQuestion",
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
        request=ChatbotQuizGenerateSerializer,
        responses={201: inline_serializer("ChatbotQuiz", {
            "quiz_id": serializers.UUIDField(), "title": serializers.CharField(),
            "questions": ChatbotQuizQuestion, "ai_model_used": serializers.CharField(),
            "requested": serializers.IntegerField(), "generated": serializers.IntegerField(),
            "shortfall_reason": serializers.CharField(allow_null=True),
        })},
    )
    def post(self, request):
        params = ChatbotQuizGenerateSerializer(data=request.data)
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
        operation_id="quiz_submit", request=ChatbotQuizSubmitSerializer, responses=ChatbotQuizSubmitResultSerializer
    )
    def post(self, request, quiz_id=None):
        params = ChatbotQuizSubmitSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        quiz_id = quiz_id or params.validated_data.get("quiz_id")
        if quiz_id is None:
            raise serializers.ValidationError({"quiz_id": ["This field is required."]})
        quiz = get_object_or_404(selectors.quiz_list_visible(user=request.user), pk=quiz_id)
        attempt = services.quiz_submit_answers(user=request.user, quiz=quiz, answers=params.validated_data["answers"])
        correct, wrong = selectors.attempt_concepts(attempt=attempt)
        return Response(ChatbotQuizSubmitResultSerializer({
            "score": attempt.percentage_score,
            "feedback": selectors.attempt_feedback_text(attempt=attempt, wrong=wrong),
            "correct": correct,
            "wrong": wrong,
            "attempt_id": attempt.pk,
            "passed": bool(attempt.passed),
        }).data)


class QuizSubmitByIdView(QuizSubmitView):
    @extend_schema(
        operation_id="quiz_submit_by_id", request=ChatbotQuizSubmitSerializer, responses=ChatbotQuizSubmitResultSerializer
    )
    def post(self, request, quiz_id=None):
        return super().post(request, quiz_id=quiz_id)


urlpatterns = [
    path("api/quiz/generate/", QuizGenerateView.as_view(), name="chatbot-quiz-generate"),
    path("api/quiz/submit/", QuizSubmitView.as_view(), name="chatbot-quiz-submit"),
    path("api/quiz/<uuid:quiz_id>/submit/", QuizSubmitByIdView.as_view(), name="chatbot-quiz-submit-id"),
]
