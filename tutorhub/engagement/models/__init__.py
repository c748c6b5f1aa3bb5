from tutorhub.engagement.models.notifications import Notification

__all__ = ["Notification"]
