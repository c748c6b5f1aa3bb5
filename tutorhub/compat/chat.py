"""Chat paths of the chatbot, token-chat and web-chat dialects: the chat services and selectors, with each dialect's
response shape (the chatbot dialect's bare lists and `sender`, the token-chat dialect's `{session_id, message}`,
the web-chat dialect's message/response pairs)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from tutorhub.chat import pairs, selectors, services
from tutorhub.chat.models import ChatSession
from tutorhub.chat.selectors import ChatPair
from tutorhub.chat.serializers import (
    ChatHistoryItemSerializer,
    MessagePairSerializer,
    PairSessionSerializer,
    QuickChatResponseSerializer,
    QuickChatSerializer,
    SenderMessageSerializer,
    SimpleSessionSerializer,
)
from tutorhub.core.compiled import CompiledQuery
from tutorhub.core.pagination import StandardPagination

# The chatbot dialect shows bare lists; they stop at this many items (the newest sessions, the latest messages).
BARE_LIST_LIMIT = 500


def _pair(user_message, answer) -> ChatPair:
    return ChatPair(
        id=user_message.pk,
        message=user_message.content,
        response=answer.content,
        created_at=user_message.created_at,
        is_complete=answer.is_complete,
    )


# --- the token-chat dialect -----------------------------------------------------------------------
class QuickChatView(APIView):
    """POST /api/v1/chat/: send a message; a missing or null session_id starts a new session."""

    throttle_scope = "ai_generation"

    @extend_schema(request=QuickChatSerializer, responses={200: QuickChatResponseSerializer})
    def post(self, request):
        params = QuickChatSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        session = services.chat_session_get_or_create(
            user=request.user, session_id=data.get("session_id"), title_hint=data["message"]
        )
        _, answer = services.chat_message_send(session=session, user=request.user, content=data["message"])
        return Response({"session_id": str(session.pk), "message": answer.content})


class ChatHistoryView(generics.ListAPIView):
    """GET /api/v1/chat/chats-history/: the user's sessions, newest first."""

    serializer_class = ChatHistoryItemSerializer
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ChatSession.objects.none()
        return selectors.chat_session_list(user=self.request.user)


# --- the web-chat dialect -------------------------------------------------------------------------
class PairSessionListView(generics.ListCreateAPIView):
    serializer_class = PairSessionSerializer
    filter_backends: list = []
    compiled_sessions = CompiledQuery("web-chat sessions", lambda user: selectors.chat_session_list_for_pairs(user=user), user=())

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ChatSession.objects.none()
        return selectors.chat_session_list_for_pairs(user=self.request.user)

    def list(self, request, *args, **kwargs):
        # The page through its compiled query (core.compiled); a page number it does not serve
        # ("last", "0") goes to DRF's list, whose paginate_queryset below attaches the pairs.
        page = self.paginator.paginate_compiled(self.compiled_sessions, request, user=request.user)
        if page is None:
            return super().list(request, *args, **kwargs)
        pairs.sessions_attach_pairs(page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        pairs.sessions_attach_pairs(page)
        return page

    def perform_create(self, serializer):
        serializer.instance = services.chat_session_create(user=self.request.user, **serializer.validated_data)
        serializer.instance.pairs = []


class PairSessionDetailView(generics.RetrieveDestroyAPIView):
    serializer_class = PairSessionSerializer

    def get_object(self):
        session = selectors.chat_session_get(user=self.request.user, session_id=self.kwargs["session_id"])
        pairs.sessions_attach_pairs([session])
        return session

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ChatSession.objects.none()
        return selectors.chat_session_list_for_pairs(user=self.request.user)

    def perform_destroy(self, instance):
        services.chat_session_delete(session=instance)


class PairListView(APIView):
    """Message/response pairs of one session, paginated; POST {message} asks the tutor."""

    def get_throttles(self):
        # Only asking the tutor counts against the AI limit; reading the list has the user rate.
        self.throttle_scope = "ai_generation" if self.request.method == "POST" else None
        return super().get_throttles()

    @extend_schema(responses=MessagePairSerializer(many=True))
    def get(self, request, session_id):
        session = selectors.chat_session_get(user=request.user, session_id=session_id)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(selectors.chat_pair_queryset(session=session), request, view=self)
        return paginator.get_paginated_response(MessagePairSerializer(selectors.chat_pairs(page), many=True).data)

    @extend_schema(request=MessagePairSerializer, responses={201: MessagePairSerializer})
    def post(self, request, session_id):
        session = selectors.chat_session_get(user=request.user, session_id=session_id)
        params = MessagePairSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        question, answer = services.chat_message_send(session=session, user=request.user, content=params.validated_data["message"])
        return Response(MessagePairSerializer(_pair(question, answer)).data, status=status.HTTP_201_CREATED)


class PairDetailView(APIView):
    @extend_schema(responses=MessagePairSerializer)
    def get(self, request, session_id, pair_id):
        pair = selectors.chat_pair_get(user=request.user, session_id=session_id, pair_id=pair_id)
        return Response(MessagePairSerializer(pair).data)


# --- the chatbot dialect --------------------------------------------------------------------------
class SimpleSessionListView(APIView):
    @extend_schema(responses=SimpleSessionSerializer(many=True))
    def get(self, request):
        sessions = selectors.chat_session_list(user=request.user)[:BARE_LIST_LIMIT]
        return Response(SimpleSessionSerializer(sessions, many=True).data)

    @extend_schema(request=SimpleSessionSerializer, responses={201: SimpleSessionSerializer})
    def post(self, request):
        params = SimpleSessionSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        session = services.chat_session_create(user=request.user, **params.validated_data)
        return Response(SimpleSessionSerializer(session).data, status=status.HTTP_201_CREATED)


class SimpleSessionDetailView(APIView):
    @extend_schema(responses=SimpleSessionSerializer)
    def get(self, request, session_id):
        session = selectors.chat_session_get(user=request.user, session_id=session_id)
        return Response(SimpleSessionSerializer(session).data)

    @extend_schema(responses={204: None})
    def delete(self, request, session_id):
        session = selectors.chat_session_get(user=request.user, session_id=session_id)
        services.chat_session_delete(session=session)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SenderMessageListView(APIView):
    @extend_schema(responses=SenderMessageSerializer(many=True))
    def get(self, request, session_id):
        session = selectors.chat_session_get(user=request.user, session_id=session_id)
        messages = selectors.message_list(session=session, limit=BARE_LIST_LIMIT)
        return Response(SenderMessageSerializer(messages, many=True).data)


urlpatterns = [
    # the token-chat dialect
    path("api/v1/chat/", QuickChatView.as_view()),
    path("api/v1/chat/chats-history/", ChatHistoryView.as_view()),
    # the web-chat dialect
    path("api/v1/chat/sessions/", PairSessionListView.as_view()),
    path("api/v1/chat/sessions/<uuid:session_id>/", PairSessionDetailView.as_view()),
    path("api/v1/chat/sessions/<uuid:session_id>/chats/", PairListView.as_view()),
    path("api/v1/chat/sessions/<uuid:session_id>/chats/<uuid:pair_id>/", PairDetailView.as_view()),
    # the chatbot dialect
    path("api/sessions/", SimpleSessionListView.as_view()),
    path("api/sessions/<uuid:session_id>/", SimpleSessionDetailView.as_view()),
    path("api/sessions/<uuid:session_id>/messages/", SenderMessageListView.as_view()),
]
