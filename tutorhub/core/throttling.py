"""DRF throttles that read their rates at call time (so settings overrides apply) and record
the most restrictive limit for the X-RateLimit-* headers."""

from __future__ import annotations

from django.conf import settings
from rest_framework import throttling


class _HeaderMixin:
    def get_rate(self):
        rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
        return rates.get(self.scope)

    def allow_request(self, request, view):
        if not getattr(settings, "THROTTLING_ENABLED", True):
            return True
        allowed = super().allow_request(request, view)
        if getattr(self, "key", None) is None or self.rate is None:
            return allowed
        remaining = self.num_requests - len(self.history) if allowed else 0
        django_request = getattr(request, "_request", request)
        current = getattr(django_request, "ratelimit_remaining", None)
        if current is None or remaining < current:
            django_request.ratelimit_limit = self.num_requests
            django_request.ratelimit_remaining = remaining
        return allowed


class UserRateThrottle(_HeaderMixin, throttling.UserRateThrottle):
    pass


class AnonRateThrottle(_HeaderMixin, throttling.AnonRateThrottle):
    pass


class ScopedRateThrottle(_HeaderMixin, throttling.ScopedRateThrottle):
    """Per-view scope (`throttle_scope = "uploads"` / `"ai_generation"`), on top of user/anon."""
