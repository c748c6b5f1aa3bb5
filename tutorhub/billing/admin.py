from django.contrib import admin

from tutorhub.billing.models import UsageRecord


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "amount", "feature", "model", "latency_ms", "created_at"]
    list_filter = ["kind", "feature"]
    raw_id_fields = ["user"]
    date_hierarchy = "created_at"
