from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from rest_framework import serializers

from tutorhub.billing.models import Payment
from tutorhub.courses.models import Group


class PaymentSerializer(serializers.ModelSerializer):
    student = serializers.PrimaryKeyRelatedField(queryset=get_user_model().objects.filter(role="student"))
    group = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all(), allow_null=True, required=False)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"), coerce_to_string=True)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", default="UZS", help_text="ISO 4217 code, e.g. UZS, USD")
    is_overdue = serializers.BooleanField(read_only=True)
    student_name = serializers.CharField(source="student.get_full_name", read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id", "student", "student_name", "group", "amount", "currency", "payment_method", "status", "is_overdue",
            "due_date", "paid_at", "confirmed_by", "description", "notes", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "status", "paid_at", "confirmed_by", "created_at", "updated_at"]

    def validate_currency(self, value: str) -> str:
        return value.upper()


class PaymentConfirmSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[("confirmed", "Confirmed"), ("failed", "Failed")], default="confirmed")
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class PaymeErrorSerializer(serializers.Serializer):
    code = serializers.IntegerField(help_text="Payme's error code, e.g. -32504 insufficient privileges")
    message = serializers.DictField(child=serializers.CharField(), help_text="The message per language (en, ru, uz)")
    data = serializers.CharField(required=False)


class PaymeResponseSerializer(serializers.Serializer):
    """A JSON-RPC 2.0 answer to Payme's merchant API: `result` or `error` (always HTTP 200)."""

    jsonrpc = serializers.CharField()
    id = serializers.JSONField(allow_null=True, help_text="The request's id, echoed")
    result = serializers.DictField(required=False, help_text="The method's result")
    error = PaymeErrorSerializer(required=False)
