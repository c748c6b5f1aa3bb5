"""DRF throttles that read their rates at call time (so settings overrides apply), identify
anonymous clients by `client_ip` (never by a header the client can rotate), record the most
restrictive limit for the X-RateLimit-* headers, and fail open when the cache is down."""

from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace

from django.conf import settings
from rest_framework import throttling

from tutorhub.core.clientip import client_ip

logger = logging.getLogger(__name__)


def _cache_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError]  # sockets: refused, reset, timed out
    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - redis is a dependency, but only used with REDIS_URL
        pass
    else:
        errors.append(RedisError)
    return tuple(errors)


# What a cache backend raises when its server is unreachable. Anything else is a bug and
# should surface.
CACHE_ERRORS = _cache_errors()
CACHE_DOWN_WARNING_INTERVAL = 60.0  # seconds; one line a minute, not one per request
_last_warning = 0.0
_warning_lock = threading.Lock()


def warn_cache_down(what: str, exc: BaseException) -> None:
    """Log that `what` is running without its cache, at most once a minute per process.

    Rate limits protect the service, but a limit that cannot be counted must not take every
    request down with it: callers allow the request and call this."""
    global _last_warning
    now = time.monotonic()
    with _warning_lock:
        if _last_warning and now - _last_warning < CACHE_DOWN_WARNING_INTERVAL:
            return
        _last_warning = now
    logger.warning("%s skipped: cache unavailable (%s: %s); failing open", what, type(exc).__name__, exc)


class _HeaderMixin:
    def get_rate(self):
        rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
        return rates.get(self.scope)

    def get_ident(self, request) -> str:
        return client_ip(request)

    def allow_request(self, request, view):
        if not getattr(settings, "THROTTLING_ENABLED", True):
            return True
        try:
            allowed = super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            warn_cache_down("Rate limiting", exc)
            return True
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


class WebhookRateThrottle(AnonRateThrottle):
    """For callers authenticated by a signature rather than a user (payment providers): per
    client address, with the "webhooks" budget, which allows for a provider's bursts and
    retries yet still bounds a flood of forged calls (each costs a signature check)."""

    scope = "webhooks"


def scope_wait(user, scope: str) -> float | None:
    """Count one request of `user` against a throttle scope outside a DRF view (the chat
    WebSocket's answers count against "ai_generation" like REST's, on the same cache key).
    Returns None when allowed, else the seconds until the next one is. Blocking (the cache may
    be Redis): call it from a thread, not the event loop."""
    throttle = ScopedRateThrottle()
    if throttle.allow_request(SimpleNamespace(user=user, META={}), SimpleNamespace(throttle_scope=scope)):
        return None
    return throttle.wait() or 1.0
