from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tutorhub.chat.models import ChatContext, ChatSession, Message, TutoringSession
from tutorhub.core.serializers import (
    BuiltFieldsCacheMixin,
    FastRepresentationMixin,
    ScopedPrimaryKeyRelatedField,
)
from tutorhub.knowledge.models import Document
from tutorhub.knowledge.selectors import document_list_visible

MAX_MESSAGE_CHARS = 10_000


class MessageSerializer(BuiltFieldsCacheMixin, serializers.ModelSerializer):
    chat = serializers.UUIDField(source="session_id", read_only=True)
    ai_model_used = serializers.CharField(source="model_used", read_only=True)
    citations = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id", "chat", "role", "content", "message_type", "token_count", "processing_time_ms",
            "ai_model_used", "model_used", "context_used", "citations", "is_complete", "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_citations(self, obj: Message) -> list:
        return (obj.context_used or {}).get("citations", [])


class ChatSessionSerializer(BuiltFieldsCacheMixin, serializers.ModelSerializer):
    message_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = ChatSession
        fields = [
            "id", "title", "course", "chat_type", "ai_model", "temperature", "system_prompt", "status",
            "is_pinned", "is_favorite", "message_count", "last_message_at", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "message_count", "last_message_at", "created_at", "updated_at"]

    def get_fields(self):
        fields = super().get_fields()
        # A course is validated as a UUID here; the service checks the caller may see it (404).
        fields["course"] = serializers.UUIDField(required=False, allow_null=True, source="course_id")
        if self.instance is None:
            # A new chat starts active (the service takes no status); archiving is an update.
            fields["status"].read_only = True
        return fields


class ChatSessionDetailSerializer(ChatSessionSerializer):
    """The canonical API's chat retrieve and the token-chat dialect's "full chat messages" share one path."""

    messages = MessageSerializer(many=True, read_only=True, source="message_list")

    class Meta(ChatSessionSerializer.Meta):
        fields = [*ChatSessionSerializer.Meta.fields, "messages"]


class SendMessageSerializer(serializers.Serializer):
    content = serializers.CharField(max_length=MAX_MESSAGE_CHARS, trim_whitespace=True)
    message_type = serializers.ChoiceField(choices=Message.MessageType.choices, default=Message.MessageType.QUESTION)
    context_documents = ScopedPrimaryKeyRelatedField(
        selector=document_list_visible, model=Document, as_pk=True, many=True, required=False, default=list, max_length=50
    )
    include_course_context = serializers.BooleanField(default=True)


class SendMessageResponseSerializer(serializers.Serializer):
    user_message = MessageSerializer()
    ai_response = MessageSerializer()


class MessageFilterSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Message.MessageType.choices, required=False)
    role = serializers.ChoiceField(choices=Message.Role.choices, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=500, required=False)


class ChatContextSerializer(serializers.ModelSerializer):
    document_ids = ScopedPrimaryKeyRelatedField(
        selector=document_list_visible, model=Document, as_pk=True, many=True, required=False, default=list, max_length=50
    )

    class Meta:
        model = ChatContext
        fields = ["id", "context_type", "content", "document_ids", "priority", "expiration_date", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs):
        if not attrs.get("content") and not attrs.get("document_ids"):
            raise serializers.ValidationError("Give some content or document_ids.")
        return attrs


class ByTypeSerializer(serializers.Serializer):
    chat_type = serializers.CharField()
    count = serializers.IntegerField()


class LearningInsightsSerializer(serializers.Serializer):
    concepts_discussed = serializers.IntegerField()
    problems_solved = serializers.IntegerField()
    questions_answered = serializers.IntegerField()
    knowledge_gaps_identified = serializers.IntegerField()


class ChatStatsSerializer(serializers.Serializer):
    total_chats = serializers.IntegerField()
    active_chats = serializers.IntegerField()
    total_messages = serializers.IntegerField()
    total_tokens_used = serializers.IntegerField()
    average_response_time_ms = serializers.IntegerField()
    favorite_chats = serializers.IntegerField()
    pinned_chats = serializers.IntegerField()
    by_type = ByTypeSerializer(many=True)
    learning_insights = LearningInsightsSerializer()


class TutoringSessionSerializer(serializers.ModelSerializer):
    course = serializers.UUIDField(source="course_id", required=False, allow_null=True)
    chat = serializers.UUIDField(source="chat_id", read_only=True)
    learning_objectives = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, default=list, max_length=50
    )

    class Meta:
        model = TutoringSession
        fields = [
            "id", "course", "chat", "title", "session_type", "learning_objectives", "estimated_duration_minutes",
            "difficulty_level", "status", "started_at", "completed_at", "actual_duration_minutes",
            "objectives_achieved", "concepts_mastered", "areas_for_improvement", "user_satisfaction",
            "learning_effectiveness", "session_notes", "created_at", "updated_at",
        ]
        read_only_fields = [
            "id", "chat", "status", "started_at", "completed_at", "actual_duration_minutes", "objectives_achieved",
            "concepts_mastered", "areas_for_improvement", "user_satisfaction", "learning_effectiveness",
            "session_notes", "created_at", "updated_at",
        ]
        extra_kwargs = {"estimated_duration_minutes": {"min_value": 1, "max_value": 24 * 60}}


def _str_list():
    return serializers.ListField(child=serializers.CharField(max_length=300), required=False, default=list, max_length=50)


class TutoringCompleteSerializer(serializers.Serializer):
    objectives_achieved = _str_list()
    concepts_mastered = _str_list()
    areas_for_improvement = _str_list()
    user_satisfaction = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    learning_effectiveness = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    session_notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)


# --- the token-chat dialect / the web-chat dialect / the chatbot dialect shapes -------------------
class QuickChatSerializer(serializers.Serializer):
    """The token-chat dialect `POST /api/v1/chat/`: no session_id (or null) starts a new session."""

    session_id = serializers.UUIDField(required=False, allow_null=True)
    message = serializers.CharField(max_length=MAX_MESSAGE_CHARS)


class QuickChatResponseSerializer(serializers.Serializer):
    session_id = serializers.UUIDField()
    message = serializers.CharField()


class ChatHistoryItemSerializer(serializers.ModelSerializer):
    session_id = serializers.UUIDField(source="id", read_only=True)

    class Meta:
        model = ChatSession
        fields = ["session_id", "id", "title", "created_at", "updated_at", "last_message_at"]
        read_only_fields = fields


class MessagePairSerializer(FastRepresentationMixin, serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    message = serializers.CharField(max_length=MAX_MESSAGE_CHARS)
    response = serializers.CharField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    is_complete = serializers.BooleanField(read_only=True)


class PairSessionSerializer(BuiltFieldsCacheMixin, serializers.ModelSerializer):
    """The web-chat dialect session: `chats` (message/response pairs) and `last_message` (the latest
    pair). The pairs are already MessagePairSerializer's dicts: chat.pairs.sessions_attach_pairs
    reads and shapes a whole page's in one pass (see there why)."""

    chats = serializers.SerializerMethodField()
    last_message = serializers.SerializerMethodField()

    class Meta:
        model = ChatSession
        fields = ["id", "title", "created_at", "chats", "last_message"]
        read_only_fields = ["id", "created_at", "chats", "last_message"]

    @extend_schema_field(MessagePairSerializer(many=True))
    def get_chats(self, obj):
        return getattr(obj, "pairs", [])

    @extend_schema_field(MessagePairSerializer(allow_null=True))
    def get_last_message(self, obj):
        pairs = getattr(obj, "pairs", [])
        return pairs[-1] if pairs else None


class SimpleSessionSerializer(serializers.ModelSerializer):
    """The chatbot dialect session shape."""

    class Meta:
        model = ChatSession
        fields = ["id", "title", "created_at"]
        read_only_fields = ["id", "created_at"]


class SenderMessageSerializer(serializers.ModelSerializer):
    """The chatbot dialect message shape (`sender` instead of `role`)."""

    sender = serializers.CharField(source="role", read_only=True)

    class Meta:
        model = Message
        fields = ["id", "sender", "content", "created_at", "is_complete"]
        read_only_fields = fields
