from __future__ import annotations

from rest_framework import serializers


class OrderedDatesMixin:
    """start_date/end_date in order, checked against the instance's values on partial updates."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        start = attrs.get("start_date", getattr(self.instance, "start_date", None))
        end = attrs.get("end_date", getattr(self.instance, "end_date", None))
        if start and end and end < start:
            raise serializers.ValidationError({"end_date": ["The end date must not be before the start date."]})
        return attrs
