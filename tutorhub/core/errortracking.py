"""Unhandled errors reach the operator's error tracker (Sentry or any Sentry-protocol service
such as GlitchTip) when SENTRY_DSN is set.

Sentry's Django integration listens to Django's `got_request_exception` signal; the API's
exception handler (tutorhub.core.exceptions) sends it for every error it turns into a 500, so
API crashes are reported as well as plain Django views', and the client still gets the JSON
error envelope. Nothing is sent without a DSN, and no personal data (send_default_pii=False).
"""

from __future__ import annotations

from typing import Any


def configure_error_tracking(dsn: str, *, environment: str = "", release: str = "", **options: Any) -> bool:
    """Start the Sentry SDK for this process; returns whether it was started.

    `options` go to sentry_sdk.init (tests pass `transport` to capture events in memory)."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration()],
        environment=environment or None,
        release=release or None,
        send_default_pii=False,
        # Errors only unless the operator asks for performance traces.
        traces_sample_rate=options.pop("traces_sample_rate", 0.0),
        **options,
    )
    return True
