from django.contrib import admin

from tutorhub.chat.models import ChatContext, ChatSession, Message, TutoringSession


class MessageInline(admin.TabularInline):
    model = Message
    fk_name = "session"
    extra = 0
    fields = ["role", "message_type", "content", "model_used", "token_count", "is_complete", "created_at"]
    readonly_fields = ["created_at"]
    show_change_link = True


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "chat_type", "status", "course", "last_message_at", "created_at"]
    list_filter = ["chat_type", "status", "is_pinned", "is_favorite"]
    search_fields = ["title", "owner__username", "owner__email"]
    raw_id_fields = ["owner", "course"]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["session", "role", "message_type", "model_used", "token_count", "is_complete", "created_at"]
    list_filter = ["role", "message_type", "is_complete"]
    search_fields = ["content"]
    raw_id_fields = ["session", "reply_to"]


@admin.register(ChatContext)
class ChatContextAdmin(admin.ModelAdmin):
    list_display = ["session", "context_type", "priority", "expiration_date", "created_at"]
    raw_id_fields = ["session"]


@admin.register(TutoringSession)
class TutoringSessionAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "session_type", "status", "started_at", "completed_at"]
    list_filter = ["status", "session_type", "difficulty_level"]
    raw_id_fields = ["user", "course", "chat"]
