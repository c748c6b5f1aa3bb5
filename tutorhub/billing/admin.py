from django.contrib import admin

from tutorhub.billing.models import (
    Payment,
    Plan,
    ProviderEvent,
    QuotaReservation,
    Subscription,
    SubscriptionChange,
    UsageRecord,
)


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "amount", "feature", "model", "latency_ms", "created_at"]
    list_filter = ["kind", "feature"]
    raw_id_fields = ["user"]
    date_hierarchy = "created_at"


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["student", "group", "amount", "currency", "status", "due_date", "paid_at", "payment_method"]
    list_filter = ["status", "currency", "payment_method"]
    search_fields = ["student__username", "provider_transaction_id"]
    raw_id_fields = ["student", "group", "confirmed_by", "created_by"]
    date_hierarchy = "due_date"


# --- plans, subscriptions and quotas (learning/billing helper) ------------------------------

@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "price_cents", "interval", "ai_tokens_limit", "documents_limit", "storage_limit_bytes", "is_default", "is_active"]
    list_editable = ["is_active"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "plan", "status", "current_period_start", "provider"]
    list_filter = ["plan", "status", "provider"]
    raw_id_fields = ["user"]
    search_fields = ["user__username", "user__email"]


@admin.register(SubscriptionChange)
class SubscriptionChangeAdmin(admin.ModelAdmin):
    list_display = ["reference", "user", "from_plan", "to_plan", "status", "provider", "created_at"]
    list_filter = ["status", "provider"]
    raw_id_fields = ["user"]


@admin.register(ProviderEvent)
class ProviderEventAdmin(admin.ModelAdmin):
    list_display = ["provider", "event_id", "event_type", "received_at"]
    readonly_fields = ["payload"]


@admin.register(QuotaReservation)
class QuotaReservationAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "amount", "created_at", "expires_at"]
    raw_id_fields = ["user"]
