"""Pluggable delivery channels for notifications (email, Telegram, SMS).

Configured like the AI backends: settings.NOTIFICATION_CHANNELS maps a channel name to
{"BACKEND": dotted path, "OPTIONS": {...}}; a channel that is not configured is not offered.
A backend's `send` raises DeliveryError(permanent=...) so the delivery task knows whether a
retry can help (network errors, 5xx and 429 are transient; a rejected address is not).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class ChannelBackend:
    """One way of reaching a user. Subclasses set `preference_flag` and implement address/send."""

    preference_flag = ""

    def __init__(self, **options: Any):
        self.options = options
        self.timeout = float(options.get("timeout", 10.0))

    def address(self, user, preference) -> str:
        """Where to send for this user ('' when the user has not given one)."""
        raise NotImplementedError

    def send(self, *, address: str, title: str, message: str) -> None:
        raise NotImplementedError

    def _post(self, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = httpx.post(url, timeout=self.timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__} contacting the provider") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise DeliveryError(f"provider answered HTTP {response.status_code}")
        if response.status_code >= 400:
            raise DeliveryError(f"provider rejected the message (HTTP {response.status_code})", permanent=True)
        return response


class EmailChannel(ChannelBackend):
    """Django's configured email backend (SMTP when EMAIL_HOST is set, console otherwise)."""

    preference_flag = "email_enabled"

    def address(self, user, preference) -> str:
        return user.email or ""

    def send(self, *, address: str, title: str, message: str) -> None:
        try:
            send_mail(title, message or title, settings.DEFAULT_FROM_EMAIL, [address])
        except OSError as exc:  # SMTP connection problems are worth a retry
            raise DeliveryError(f"email backend failed: {type(exc).__name__}") from exc


class TelegramChannel(ChannelBackend):
    """Telegram Bot API sendMessage; `api_base` is configurable for self-hosted Bot API servers and tests."""

    preference_flag = "telegram_enabled"

    def address(self, user, preference) -> str:
        return preference.telegram_chat_id if preference else ""

    def send(self, *, address: str, title: str, message: str) -> None:
        base = str(self.options.get("api_base") or "https://api.telegram.org").rstrip("/")
        url = f"{base}/bot{self.options['token']}/sendMessage"
        response = self._post(url, json={"chat_id": address, "text": f"{title}\n\n{message}".strip()})
        try:
            ok = response.json().get("ok")
        except ValueError:
            ok = False
        if not ok:
            raise DeliveryError("Telegram did not accept the message", permanent=True)


class SmsChannel(ChannelBackend):
    """A generic HTTP SMS provider: POST {to, from, message} with a bearer API key."""

    preference_flag = "sms_enabled"

    def address(self, user, preference) -> str:
        return (preference.phone_number if preference else "") or user.phone_number or ""

    def send(self, *, address: str, title: str, message: str) -> None:
        headers = {"Authorization": f"Bearer {self.options.get('api_key', '')}"}
        body = {"to": address, "from": self.options.get("sender", "TutorHub"), "message": f"{title}: {message}"[:480]}
        self._post(str(self.options["url"]), json=body, headers=headers)


def channel_backends() -> dict[str, ChannelBackend]:
    """The configured channels, built from settings on each call (cheap; follows settings overrides)."""
    backends: dict[str, ChannelBackend] = {}
    for name, conf in getattr(settings, "NOTIFICATION_CHANNELS", {}).items():
        backends[name] = import_string(conf["BACKEND"])(**conf.get("OPTIONS", {}))
    return backends
