from __future__ import annotations

from rest_framework import serializers

from tutorhub.billing.models import Plan, SubscriptionChange


class PlanSerializer(serializers.ModelSerializer):
    plan_id = serializers.CharField(source="code", read_only=True)
    price = serializers.SerializerMethodField()
    storage_limit_mb = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = [
            "plan_id", "name", "description", "price", "price_cents", "currency", "interval",
            "ai_tokens_limit", "documents_limit", "storage_limit_bytes", "storage_limit_mb", "is_default",
        ]

    def get_price(self, obj) -> str:
        return f"{obj.price_cents / 100:.2f}"

    def get_storage_limit_mb(self, obj) -> float | None:
        return None if obj.storage_limit_bytes is None else round(obj.storage_limit_bytes / (1024 * 1024), 2)


class PendingChangeSerializer(serializers.Serializer):
    reference = serializers.CharField()
    plan_id = serializers.CharField()
    created_at = serializers.DateTimeField()


class SubscriptionSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    plan = PlanSerializer()
    status = serializers.CharField()
    is_default_plan = serializers.BooleanField()
    current_period_start = serializers.DateTimeField()
    current_period_end = serializers.DateTimeField()
    provider = serializers.CharField()
    payment_method_last4 = serializers.CharField()
    pending_change = PendingChangeSerializer(allow_null=True)


class UpgradeRequestSerializer(serializers.Serializer):
    plan_id = serializers.CharField(max_length=50)
    payment_method_token = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class SubscriptionChangeSerializer(serializers.ModelSerializer):
    plan_id = serializers.CharField(source="to_plan.code")

    class Meta:
        model = SubscriptionChange
        fields = ["reference", "plan_id", "status", "provider", "amount_cents", "currency", "created_at"]


class UpgradeResponseSerializer(serializers.Serializer):
    change = SubscriptionChangeSerializer()
    subscription = SubscriptionSerializer()


class CurrentPeriodSerializer(serializers.Serializer):
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    ai_tokens_used = serializers.IntegerField()
    ai_tokens_limit = serializers.IntegerField(allow_null=True)
    documents_processed = serializers.IntegerField()
    documents_limit = serializers.IntegerField(allow_null=True)
    storage_used_mb = serializers.FloatField()
    storage_limit_mb = serializers.FloatField(allow_null=True)


class UsagePercentageSerializer(serializers.Serializer):
    ai_tokens = serializers.FloatField(allow_null=True)
    documents = serializers.FloatField(allow_null=True)
    storage = serializers.FloatField(allow_null=True)


class FeatureUsageSerializer(serializers.Serializer):
    feature = serializers.CharField()
    tokens = serializers.IntegerField(help_text="AI tokens this period, free (offline) work included.")
    charged_tokens = serializers.IntegerField(help_text="The part that counts against the plan's limit.")


class UsageSerializer(serializers.Serializer):
    plan = serializers.CharField()
    current_period = CurrentPeriodSerializer()
    usage_percentage = UsagePercentageSerializer()
    by_feature = FeatureUsageSerializer(many=True)


class ProviderWebhookAckSerializer(serializers.Serializer):
    """What the payment provider's webhook call gets back (it only needs a 2xx)."""

    received = serializers.BooleanField()
    duplicate = serializers.BooleanField(required=False, help_text="This event id was handled before")
    applied = serializers.BooleanField(required=False, help_text="Whether it changed a pending plan change")
    status = serializers.CharField(required=False, help_text="The plan change's status after the event")
