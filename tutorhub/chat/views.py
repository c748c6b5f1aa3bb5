"""Chat API (the canonical dialect). The other dialects' shapes are in tutorhub/compat/chat.py."""

from __future__ import annotations

import uuid

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.ai import ProviderError
from tutorhub.chat import selectors, services
from tutorhub.chat.models import ChatSession, TutoringSession
from tutorhub.chat.serializers import (
    ChatContextSerializer,
    ChatSessionDetailSerializer,
    ChatSessionSerializer,
    ChatStatsSerializer,
    MessageFilterSerializer,
    MessageSerializer,
    SendMessageResponseSerializer,
    SendMessageSerializer,
    TutoringCompleteSerializer,
    TutoringSessionSerializer,
)
from tutorhub.core.compiled import CompiledQuery, Scalar
from tutorhub.core.exceptions import ServiceUnavailable
from tutorhub.core.pagination import CompiledListMixin

UUID_PATTERN = "[0-9a-fA-F-]{36}"
# A session's detail carries its whole conversation (token-chat dialect); past this, page /messages/.
DETAIL_MESSAGE_LIMIT = 1000


def session_fields(data: dict) -> dict:
    """Serializer output -> service keyword arguments (course_id is the serializer's source)."""
    data = dict(data)
    if "course_id" in data:
        data["course"] = data.pop("course_id")
    return data


@extend_schema_view(
    list=extend_schema(summary="List chats (filters: course, chat_type, status)"),
    retrieve=extend_schema(summary="A chat with its messages", responses=ChatSessionDetailSerializer),
)
class ChatSessionViewSet(CompiledListMixin, viewsets.ModelViewSet):
    serializer_class = ChatSessionSerializer
    compiled_list = CompiledQuery("chats", lambda user: selectors.chat_session_list(user=user), user=())
    # A chat's messages without role, type or limit (those take message_list's other shapes).
    compiled_messages = CompiledQuery("chat messages", lambda session: selectors.message_list(session=session), session=())
    compiled_own_chat = CompiledQuery(
        "own chat", lambda user, pk: selectors.chat_session_owned_by_id(user=user, pk=pk), user=(), pk=Scalar(uuid.UUID)
    )
    filterset_fields = ["course", "chat_type", "status", "is_pinned", "is_favorite"]
    # ?search= matches a chat's title or the text of any of its messages (the web sidebar's search).
    search_fields = ["title", "messages__content"]
    ordering_fields = ["created_at", "updated_at", "last_message_at", "title"]
    lookup_value_regex = UUID_PATTERN
    throttle_scope: str | None = None  # send_message sets "ai_generation"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ChatSession.objects.none()
        if self.action == "messages":  # reads the chat's messages, not its message count or course
            return selectors.chat_sessions_owned(user=self.request.user)
        # The list shows a chat's course as its id; a chat's own actions read the course (a turn's
        # prompt names it), so only they join it: 20 course rows built per page were ~8% of the list.
        return selectors.chat_session_list(user=self.request.user, with_course=self.action != "list")

    def get_serializer_class(self):
        return ChatSessionDetailSerializer if self.action == "retrieve" else ChatSessionSerializer

    def retrieve(self, request, *args, **kwargs):
        session = self.get_object()
        session.message_list = selectors.message_list(session=session, limit=DETAIL_MESSAGE_LIMIT)
        return Response(ChatSessionDetailSerializer(session).data)

    def perform_create(self, serializer):
        serializer.instance = services.chat_session_create(
            user=self.request.user, **session_fields(serializer.validated_data)
        )

    def perform_update(self, serializer):
        serializer.instance = services.chat_session_update(
            session=serializer.instance, user=self.request.user, **session_fields(serializer.validated_data)
        )

    def perform_destroy(self, instance):
        services.chat_session_delete(session=instance)

    @extend_schema(request=SendMessageSerializer, responses={201: SendMessageResponseSerializer})
    @action(detail=True, methods=["post"], throttle_scope="ai_generation")
    def send_message(self, request, pk=None):
        session = self.get_object()
        params = SendMessageSerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        user_message, answer = services.chat_message_send(session=session, user=request.user, **params.validated_data)
        return Response(
            {"user_message": MessageSerializer(user_message).data, "ai_response": MessageSerializer(answer).data},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("type", str, description="message type"),
            OpenApiParameter("role", str),
            OpenApiParameter("limit", int, description="only the most recent N messages"),
        ],
        responses=MessageSerializer(many=True),
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def messages(self, request, pk=None):
        session = self._own_chat()
        page = self.paginator.paginate_compiled(self.compiled_messages, request, session=session)
        if page is not None:
            return self.get_paginated_response(MessageSerializer(page, many=True).data)
        params = MessageFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        qs = selectors.message_list(
            session=session,
            role=params.validated_data.get("role"),
            message_type=params.validated_data.get("type"),
            limit=params.validated_data.get("limit"),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(MessageSerializer(page, many=True).data)

    def _own_chat(self) -> ChatSession:
        """get_object() for the messages action (get_queryset's chat_sessions_owned, no filter
        backends), through a compiled lookup. Whatever it does not find, including a malformed
        id, goes to get_object() for DRF's own 404."""
        try:
            pk = uuid.UUID(self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        except ValueError:
            return self.get_object()
        found = self.compiled_own_chat.page(limit=1, offset=0, user=self.request.user, pk=pk)
        if not found:
            return self.get_object()
        self.check_object_permissions(self.request, found[0])
        return found[0]

    @extend_schema(request=ChatContextSerializer, responses={201: ChatContextSerializer})
    @action(detail=True, methods=["post"])
    def add_context(self, request, pk=None):
        session = self.get_object()
        params = ChatContextSerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        context = services.chat_context_add(session=session, **params.validated_data)
        return Response(ChatContextSerializer(context).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ChatStatsSerializer)
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def stats(self, request):
        return Response(ChatStatsSerializer(selectors.chat_stats(user=request.user)).data)


class MessageAudioView(APIView):
    """The message read aloud (the web app's "hear this answer"): audio/wav from espeak-ng
    offline, or the configured OpenAI-compatible speech service."""

    throttle_scope = "ai_generation"

    @extend_schema(responses={(200, "audio/wav"): OpenApiResponse(OpenApiTypes.BINARY, description="WAV audio")})
    def get(self, request, chat_id, message_id):
        message = selectors.message_get(user=request.user, session_id=chat_id, message_id=message_id)
        try:
            audio, content_type = services.message_audio(message=message)
        except ProviderError as exc:
            raise ServiceUnavailable(str(exc)) from exc
        response = HttpResponse(audio, content_type=content_type)
        response["Content-Disposition"] = f'inline; filename="message-{message.pk}.wav"'
        response["Cache-Control"] = "private, max-age=3600"
        return response


class TutoringSessionViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                             viewsets.GenericViewSet):
    serializer_class = TutoringSessionSerializer
    filterset_fields = ["course", "status", "session_type"]
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TutoringSession.objects.none()
        return selectors.tutoring_session_list(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.tutoring_session_create(
            user=self.request.user, **session_fields(serializer.validated_data)
        )

    @extend_schema(request=None, responses=TutoringSessionSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        tutoring = services.tutoring_session_start(tutoring=self.get_object())
        return Response(TutoringSessionSerializer(tutoring).data)

    @extend_schema(request=TutoringCompleteSerializer, responses=TutoringSessionSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        params = TutoringCompleteSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        tutoring = services.tutoring_session_complete(tutoring=self.get_object(), **params.validated_data)
        return Response(TutoringSessionSerializer(tutoring).data)
