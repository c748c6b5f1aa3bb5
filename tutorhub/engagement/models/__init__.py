from tutorhub.engagement.models.gamification import Achievement, CoinTransaction
from tutorhub.engagement.models.notifications import (
    Notification,
    NotificationDelivery,
    NotificationPreference,
)
from tutorhub.engagement.models.webhooks import WebhookDelivery, WebhookEndpoint

__all__ = ["Achievement", "CoinTransaction", "NotificationDelivery", "NotificationPreference", "Notification", "WebhookDelivery", "WebhookEndpoint"]
