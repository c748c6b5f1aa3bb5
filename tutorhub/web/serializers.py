"""Request and response shapes of the web-chat dialect's JSON routes."""

from __future__ import annotations

from rest_framework import serializers

from tutorhub.chat.models import ChatSession

TITLE_MAX = ChatSession._meta.get_field("title").max_length


class SessionCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=TITLE_MAX, required=False, default="New Chat")


class SessionRenameSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=TITLE_MAX)  # trims, and refuses a blank title


class SuccessSerializer(serializers.Serializer):
    success = serializers.BooleanField()


class SessionCreatedSerializer(SuccessSerializer):
    session_id = serializers.UUIDField()
    session_title = serializers.CharField()


class ChatPairSerializer(serializers.Serializer):
    """The web-chat dialect's {id, message, response, created_at}, plus what the page needs to show the
    answer's sources and fetch its audio."""

    id = serializers.CharField()
    message = serializers.CharField()
    response = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    response_id = serializers.CharField(allow_null=True)
    citations = serializers.ListField(child=serializers.DictField())
    is_complete = serializers.BooleanField()


class LoadSessionResponseSerializer(serializers.Serializer):
    session_id = serializers.UUIDField()
    session_title = serializers.CharField()
    chats = ChatPairSerializer(many=True)




class CitedPassageSerializer(serializers.Serializer):
    chunk_id = serializers.IntegerField()
    text = serializers.CharField()
    page = serializers.IntegerField(allow_null=True)
    section = serializers.CharField(allow_blank=True)
    heading_path = serializers.CharField(allow_blank=True, help_text="Headings above the passage, outermost first")
    document_id = serializers.UUIDField()
    document_name = serializers.CharField()
    document_url = serializers.CharField(help_text="The web page showing the document's extracted text")
