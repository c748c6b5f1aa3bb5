"""Assessment endpoints (canonical API): flashcards, quizzes, attempts, generated assessments."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from tutorhub.assessments import selectors, services
from tutorhub.assessments.models import Assessment, Flashcard, Quiz, QuizAttempt
from tutorhub.assessments.serializers import (
    AssessmentSerializer,
    AttemptResultSerializer,
    AttemptStartSerializer,
    FlashcardDueQuerySerializer,
    FlashcardReviewInputSerializer,
    FlashcardReviewSerializer,
    FlashcardSerializer,
    FlashcardStatsSerializer,
    GenerateContentSerializer,
    GenerationResultSerializer,
    GenerationStartedSerializer,
    QuestionAuthorSerializer,
    QuestionInputSerializer,
    QuestionPublicSerializer,
    QuizAttemptSerializer,
    QuizSerializer,
    ResponseInputSerializer,
    ResponseSavedSerializer,
    SchedulerSettingsSerializer,
)
from tutorhub.core.compiled import CompiledQuery
from tutorhub.core.pagination import CompiledListMixin
from tutorhub.courses.selectors import course_list_visible


class FlashcardFilter(django_filters.FilterSet):
    course = django_filters.UUIDFilter(field_name="course_id")
    difficulty_level = django_filters.ChoiceFilter(choices=Flashcard._meta.get_field("difficulty_level").choices)
    status = django_filters.ChoiceFilter(choices=Flashcard.Status.choices)
    tags = django_filters.CharFilter(method="filter_tags", help_text="cards carrying this tag")
    explanation = django_filters.CharFilter(lookup_expr="icontains")
    mastery_level = django_filters.ChoiceFilter(choices=[(m, m) for m in selectors.MASTERY_LEVELS])

    class Meta:
        model = Flashcard
        fields = ["course", "difficulty_level", "status", "tags", "explanation", "mastery_level"]

    def filter_tags(self, queryset, name, value):
        return selectors.flashcards_tagged(queryset, tags=[t.strip() for t in value.split(",") if t.strip()])


def _visible_course(request, course_id):
    if course_id is None:
        return None
    return get_object_or_404(course_list_visible(user=request.user), pk=course_id)


class AnnotatedWriteMixin:
    """Create/update answer with the object re-read through get_queryset(), so annotated fields
    (mastery_level, question_count) are real values rather than defaults."""

    def _fresh(self, obj) -> dict:
        return self.get_serializer(get_object_or_404(self.get_queryset(), pk=obj.pk)).data

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(self._fresh(serializer.instance), status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=kwargs.pop("partial", False))
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(self._fresh(serializer.instance))


class FlashcardViewSet(CompiledListMixin, AnnotatedWriteMixin, viewsets.ModelViewSet):
    serializer_class = FlashcardSerializer
    compiled_list = CompiledQuery("flashcards", lambda user: selectors.flashcard_list(user=user), user=())
    filterset_class = FlashcardFilter
    search_fields = ["question", "answer", "explanation"]
    ordering_fields = ["created_at", "next_review_date", "success_rate", "total_reviews", "difficulty_level"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Flashcard.objects.none()
        return selectors.flashcard_list(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.flashcard_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.flashcard_update(flashcard=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.flashcard_delete(flashcard=instance)

    @extend_schema(
        parameters=[OpenApiParameter("course", str), OpenApiParameter("limit", int)],
        responses=FlashcardSerializer(many=True),
    )
    @action(detail=False, methods=["get"], pagination_class=None)  # a bare list, documented as one
    def due(self, request):
        """Cards due for review now (never-reviewed first), as a bare list (canonical API)."""
        params = FlashcardDueQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        course = _visible_course(request, params.validated_data.get("course"))
        cards = selectors.flashcard_due(user=request.user, course=course, limit=params.validated_data.get("limit", 100))
        return Response(FlashcardSerializer(cards, many=True, context=self.get_serializer_context()).data)

    @extend_schema(request=FlashcardReviewInputSerializer, responses=FlashcardSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        params = FlashcardReviewInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        review = services.flashcard_review(flashcard=self.get_object(), **params.validated_data)
        data = self._fresh(review.flashcard)
        data["review"] = FlashcardReviewSerializer(review).data
        return Response(data)

    @extend_schema(parameters=[OpenApiParameter("course", str)], responses=FlashcardStatsSerializer)
    @action(detail=False, methods=["get"])
    def stats(self, request):
        params = FlashcardDueQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        course = _visible_course(request, params.validated_data.get("course"))
        return Response(FlashcardStatsSerializer(selectors.flashcard_stats(user=request.user, course=course)).data)

    @extend_schema(responses=FlashcardReviewSerializer(many=True))
    @action(detail=True, methods=["get"])
    def reviews(self, request, pk=None):
        """The card's review log, newest first."""
        page = self.paginate_queryset(selectors.flashcard_review_list(flashcard=self.get_object()))
        return self.get_paginated_response(FlashcardReviewSerializer(page, many=True).data)

    @extend_schema(
        methods=["get"], parameters=[OpenApiParameter("course", str)], responses=SchedulerSettingsSerializer
    )
    # POST, not PUT: DRF's OPTIONS metadata calls get_object() for PUT, which a list route lacks.
    @extend_schema(methods=["post"], request=SchedulerSettingsSerializer, responses=SchedulerSettingsSerializer)
    @action(detail=False, methods=["get", "post"], url_path="scheduler")
    def scheduler(self, request):
        """The spaced-repetition scheduler (fsrs or sm2) for one course's cards, or the default."""
        if request.method == "GET":
            params = FlashcardDueQuerySerializer(data=request.query_params)
            params.is_valid(raise_exception=True)
            course = _visible_course(request, params.validated_data.get("course"))
            current = selectors.scheduler_settings_for(user=request.user, course_id=getattr(course, "pk", None))
            data = {"course": getattr(course, "pk", None), "algorithm": "fsrs", "desired_retention": 0.9, "updated_at": None}
            if current is not None:
                data = SchedulerSettingsSerializer(current, context=self.get_serializer_context()).data
            return Response(data)
        params = SchedulerSettingsSerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        obj = services.scheduler_settings_update(user=request.user, **params.validated_data)
        return Response(SchedulerSettingsSerializer(obj, context=self.get_serializer_context()).data)


class QuizViewSet(CompiledListMixin, AnnotatedWriteMixin, viewsets.ModelViewSet):
    serializer_class = QuizSerializer
    # Which quizzes a user sees depends on whether they are an admin.
    compiled_list = CompiledQuery(
        "quizzes", lambda user: selectors.quiz_list_visible(user=user), user=("is_superuser", "role")
    )
    filterset_fields = ["course", "quiz_type", "is_generated"]
    search_fields = ["title", "description", "topic"]
    ordering_fields = ["created_at", "title"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Quiz.objects.none()
        return selectors.quiz_list_visible(user=self.request.user)

    def _authored(self) -> Quiz:
        quiz = self.get_object()
        if not selectors.quiz_is_authored(user=self.request.user, quiz=quiz):
            raise PermissionDenied("Only the quiz's author or the course's teacher can change it.")
        return quiz

    def perform_create(self, serializer):
        serializer.instance = services.quiz_create(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        self._authored()
        serializer.instance = services.quiz_update(quiz=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        self._authored()
        services.quiz_delete(quiz=instance)

    @extend_schema(methods=["post"], request=QuestionInputSerializer, responses={201: QuestionAuthorSerializer})
    @extend_schema(methods=["get"], responses=QuestionPublicSerializer(many=True))
    @action(detail=True, methods=["get", "post"])
    def questions(self, request, pk=None):
        """GET: the questions (answers only for the quiz's authors). POST: add a question."""
        if request.method == "GET":
            quiz = self.get_object()
            author = selectors.quiz_is_authored(user=request.user, quiz=quiz)
            serializer_class = QuestionAuthorSerializer if author else QuestionPublicSerializer
            return Response(serializer_class(selectors.questions_with_options(quiz=quiz), many=True).data)
        quiz = self._authored()
        params = QuestionInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        question = services.question_create(quiz=quiz, **params.validated_data)
        return Response(QuestionAuthorSerializer(question).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=QuizAttemptSerializer(many=True))
    @action(detail=True, methods=["get"])
    def attempts(self, request, pk=None):
        """Every student's attempts at this quiz, for its authors (a teacher's results view)."""
        quiz = self._authored()
        page = self.paginate_queryset(selectors.quiz_attempt_list(quiz=quiz))
        return self.get_paginated_response(QuizAttemptSerializer(page, many=True).data)

    @extend_schema(request=None, responses={201: AttemptStartSerializer, 200: AttemptStartSerializer})
    @action(detail=True, methods=["post"])
    def start_attempt(self, request, pk=None):
        """Start an attempt (or get back the one still running). Questions come without answers."""
        attempt, created = services.attempt_start(user=request.user, quiz=self.get_object())
        return Response(_start_payload(attempt), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _start_payload(attempt: QuizAttempt) -> dict:
    questions = {str(q.pk): q for q in selectors.questions_with_options(quiz=attempt.quiz)}
    attempt.questions = [questions[qid] for qid in attempt.questions_order if qid in questions]
    attempt.attempt_number = selectors.attempt_number(attempt=attempt)
    return AttemptStartSerializer(attempt).data


class QuizAttemptViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = QuizAttemptSerializer
    filterset_fields = ["quiz", "status"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return QuizAttempt.objects.none()
        return selectors.attempt_list(user=self.request.user)

    def retrieve(self, request, *args, **kwargs):
        attempt = self.get_object()
        if attempt.status == QuizAttempt.Status.COMPLETED:
            return Response(self._result(attempt))
        data = _start_payload(attempt)
        data["responses"] = ResponseSavedSerializer(selectors.attempt_responses(attempt=attempt), many=True).data
        return Response(data)

    def _result(self, attempt: QuizAttempt) -> dict:
        reveal = selectors.attempt_results_visible(user=self.request.user, attempt=attempt)
        return AttemptResultSerializer(selectors.attempt_result(attempt=attempt, reveal=reveal)).data

    @extend_schema(request=ResponseInputSerializer, responses=ResponseSavedSerializer)
    @action(detail=True, methods=["post"])
    def submit_response(self, request, pk=None):
        params = ResponseInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        response = services.attempt_response_submit(
            attempt=self.get_object(), question_id=data.pop("question"), **data
        )
        return Response(ResponseSavedSerializer(response).data)

    @extend_schema(request=None, responses=AttemptResultSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        attempt = services.attempt_complete(attempt=self.get_object())
        return Response(self._result(attempt))


class AssessmentViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Generated study material (the canonical API's `assessment_id`). Poll the detail for `status` and
    `progress_percentage` while a large run works in the background."""

    serializer_class = AssessmentSerializer
    lookup_value_regex = "[0-9a-fA-F-]{36}"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Assessment.objects.none()
        return selectors.assessment_list(user=self.request.user)

    def get_throttles(self):
        self.throttle_scope = "ai_generation" if self.action == "generate_content" else None
        return super().get_throttles()

    def perform_create(self, serializer):
        serializer.instance = services.assessment_create(user=self.request.user, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.assessment_delete(assessment=instance)

    @extend_schema(
        request=GenerateContentSerializer,
        responses={200: GenerationResultSerializer, 202: GenerationStartedSerializer},
    )
    @action(detail=True, methods=["post"])
    def generate_content(self, request, pk=None):
        """Generate flashcards and a quiz from a topic, free content and/or documents. Small runs
        answer with the content; large ones answer 202 and run in the background."""
        assessment = self.get_object()
        params = GenerateContentSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = {**params.validated_data, "document_ids": [str(d) for d in params.validated_data["document_ids"]]}
        assessment = services.assessment_generation_begin(assessment=assessment, params=data)
        if services.generation_is_large(
            flashcard_count=data["flashcard_count"], quiz_questions=data["quiz_questions"], document_ids=data["document_ids"]
        ):
            services.assessment_generate_later(assessment=assessment, params=data)
            body = {"message": "Content generation started", "assessment_id": assessment.pk,
                    "status": assessment.status, "progress_percentage": assessment.progress}
            return Response(GenerationStartedSerializer(body).data, status=status.HTTP_202_ACCEPTED)
        assessment = services.assessment_generate_content(assessment_id=assessment.pk, params=data)
        return Response(assessment.result)
