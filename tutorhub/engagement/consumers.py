from __future__ import annotations

from channels.db import database_sync_to_async

from tutorhub.core.consumers import JsonConsumer
from tutorhub.engagement.selectors import notification_get, notification_unread_count
from tutorhub.engagement.services import notification_group_name, notification_mark_read


class NotificationConsumer(JsonConsumer):
    """ws/notifications/: pushes each new notification of the signed-in user as JSON.

    Clients may send {"action": "mark_read", "id": <id>}; the answer is {"type": "marked_read", "id": ...}.
    The user's documents report their processing as {"type": "document_progress", "document_id",
    "processing_status", "progress_percentage", "stage"} frames.
    """

    async def connect(self):
        user = self.scope.get("user")
        if not user or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.group_name = notification_group_name(user.pk)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        unread = await database_sync_to_async(notification_unread_count)(user=user)
        await self.send_json({"type": "connected", "unread_count": unread})

    async def disconnect(self, code):
        if getattr(self, "group_name", None):
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or content.get("action") != "mark_read":
            await self.send_json({"type": "error", "detail": "Unknown action."})
            return
        marked = await database_sync_to_async(self._mark_read)(content.get("id"))
        if marked:
            await self.send_json({"type": "marked_read", "id": content.get("id")})
        else:
            await self.send_json({"type": "error", "detail": "Not found."})

    def _mark_read(self, notification_id) -> bool:
        notification = notification_get(user=self.scope["user"], notification_id=notification_id)
        if notification is None:
            return False
        notification_mark_read(notification=notification)
        return True

    async def document_progress(self, event):
        """A document of this user moved on (knowledge.services.processing._push_progress)."""
        await self.send_json({"type": "document_progress", **event["document"]})

    async def notification_message(self, event):
        await self.send_json({"type": "notification", "notification": event["notification"], **event["notification"]})
