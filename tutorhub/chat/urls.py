"""Canonical chat API, relative to /api/v1/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from tutorhub.chat import views

router = SimpleRouter()
router.register("chat/chats", views.ChatSessionViewSet, basename="chat")
router.register("chat/tutoring-sessions", views.TutoringSessionViewSet, basename="tutoring-session")

urlpatterns = [
    path(
        "chat/chats/<uuid:chat_id>/messages/<uuid:message_id>/audio/",
        views.MessageAudioView.as_view(),
        name="chat-message-audio",
    ),
    *router.urls,
]
