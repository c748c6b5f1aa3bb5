"""Chat use cases, split by sub-domain: sessions, context and tutoring sessions (.sessions); the
tutor's turn, the only code that talks to the LLM for chat (.tutor)."""

from tutorhub.chat.services.sessions import (
    DEFAULT_TITLE,
    chat_context_add,
    chat_last_exchange_delete,
    chat_session_create,
    chat_session_delete,
    chat_session_get_or_create,
    chat_session_rename,
    chat_session_touch,
    chat_session_update,
    message_audio,
    title_from_text,
    tutoring_session_complete,
    tutoring_session_create,
    tutoring_session_start,
)
from tutorhub.chat.services.tutor import (
    ChatReplyFailed,
    ChatReplyStopped,
    chat_message_send,
    chat_reply_stream,
)

__all__ = [
    "DEFAULT_TITLE",
    "ChatReplyFailed",
    "ChatReplyStopped",
    "chat_context_add",
    "chat_last_exchange_delete",
    "chat_message_send",
    "chat_reply_stream",
    "chat_session_create",
    "chat_session_delete",
    "chat_session_get_or_create",
    "chat_session_rename",
    "chat_session_touch",
    "chat_session_update",
    "message_audio",
    "title_from_text",
    "tutoring_session_complete",
    "tutoring_session_create",
    "tutoring_session_start",
]
