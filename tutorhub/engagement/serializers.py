from __future__ import annotations

from rest_framework import serializers

from tutorhub.core.serializers import BuiltFieldsCacheMixin
from tutorhub.engagement.models import Achievement, CoinTransaction, Notification, NotificationPreference


class NotificationSerializer(BuiltFieldsCacheMixin, serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "message", "data", "is_read", "read_at", "created_at"]
        read_only_fields = fields


class NotificationPreferenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationPreference
        fields = [
            "telegram_enabled",
            "sms_enabled",
            "email_enabled",
            "telegram_chat_id",
            "phone_number",
            "payment_notifications",
            "homework_notifications",
            "lesson_notifications",
            "attendance_notifications",
            "gamification_notifications",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def validate_telegram_chat_id(self, value: str) -> str:
        value = value.strip()
        if value and not value.lstrip("-").isdigit() and not value.startswith("@"):
            raise serializers.ValidationError("A Telegram chat id is a number (or @channelname).")
        return value

    def validate_phone_number(self, value: str) -> str:
        value = value.strip().replace(" ", "")
        digits = value.lstrip("+")
        if value and (not digits.isdigit() or not 7 <= len(digits) <= 15):
            raise serializers.ValidationError("Enter a phone number in international format, e.g. +998901234567.")
        return value

    def validate(self, attrs):
        instance = self.instance
        def final(name):
            return attrs.get(name, getattr(instance, name, None))
        if final("telegram_enabled") and not final("telegram_chat_id"):
            raise serializers.ValidationError({"telegram_chat_id": ["Required when Telegram notifications are enabled."]})
        if final("sms_enabled") and not final("phone_number"):
            raise serializers.ValidationError({"phone_number": ["Required when SMS notifications are enabled."]})
        return attrs


class CoinTransactionSerializer(serializers.ModelSerializer):
    class Meta:
        model = CoinTransaction
        fields = ["id", "amount", "reason", "balance_after", "created_at"]
        read_only_fields = fields


class CoinsMeSerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    coins = serializers.IntegerField()
    total_earned = serializers.IntegerField()
    total_spent = serializers.IntegerField()
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = CoinTransactionSerializer(many=True)


class LeaderboardEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    student_id = serializers.IntegerField()
    username = serializers.CharField()
    full_name = serializers.CharField()
    coins = serializers.IntegerField()
    lessons_completed = serializers.IntegerField()
    homeworks_completed = serializers.IntegerField()


class LeaderboardSerializer(serializers.Serializer):
    group_id = serializers.IntegerField()
    group_name = serializers.CharField()
    results = LeaderboardEntrySerializer(many=True)


class AchievementProgressSerializer(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    metric = serializers.CharField()
    target = serializers.FloatField()
    current = serializers.FloatField()
    progress_percentage = serializers.IntegerField()
    coins = serializers.IntegerField()
    earned = serializers.BooleanField()
    earned_at = serializers.DateTimeField(allow_null=True)


class AchievementsSerializer(serializers.Serializer):
    student_id = serializers.IntegerField()
    stats = serializers.DictField()
    earned_count = serializers.IntegerField()
    achievements = AchievementProgressSerializer(many=True)


class EarnedAchievementSerializer(serializers.ModelSerializer):
    class Meta:
        model = Achievement
        fields = ["code", "title", "description", "coins_awarded", "earned_at"]
