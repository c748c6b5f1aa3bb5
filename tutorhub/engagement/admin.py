from django.contrib import admin

from tutorhub.engagement.models import (
    Achievement,
    CoinTransaction,
    Notification,
    NotificationDelivery,
    NotificationPreference,
)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "title", "is_read", "created_at"]
    list_filter = ["kind", "is_read"]
    search_fields = ["title", "user__username"]
    raw_id_fields = ["user"]


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "email_enabled", "telegram_enabled", "sms_enabled"]
    raw_id_fields = ["user"]


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(admin.ModelAdmin):
    list_display = ["notification", "channel", "status", "attempts", "sent_at"]
    list_filter = ["channel", "status"]
    raw_id_fields = ["notification"]


@admin.register(CoinTransaction)
class CoinTransactionAdmin(admin.ModelAdmin):
    list_display = ["user", "amount", "reason", "balance_after", "created_at"]
    search_fields = ["user__username", "reason", "idempotency_key"]
    raw_id_fields = ["user"]

    def has_change_permission(self, request, obj=None):
        return False  # the ledger is append-only; corrections are new transactions


@admin.register(Achievement)
class AchievementAdmin(admin.ModelAdmin):
    list_display = ["user", "code", "title", "earned_at"]
    list_filter = ["code"]
    raw_id_fields = ["user"]


# --- webhooks ---
from tutorhub.engagement.models import WebhookDelivery, WebhookEndpoint  # noqa: E402


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "owner", "is_active", "created_at"]
    raw_id_fields = ["owner"]
    exclude = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "event"]
    raw_id_fields = ["endpoint"]
