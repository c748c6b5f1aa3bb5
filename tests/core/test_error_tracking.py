"""Unhandled errors reach an error tracker through Django's signal path (SENTRY_DSN), and the
client still gets the JSON envelope. The Sentry SDK runs for real with an in-memory transport."""

from __future__ import annotations

import pytest
import sentry_sdk
from django.core.signals import got_request_exception
from django.test import Client
from rest_framework.test import APIClient
from sentry_sdk.transport import Transport

from tutorhub.core.errortracking import configure_error_tracking

pytestmark = pytest.mark.django_db


class MemoryTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.events: list[dict] = []

    def capture_envelope(self, envelope):
        for item in envelope.items:
            event = item.get_event()
            if event is not None:
                self.events.append(event)


@pytest.fixture
def tracker(settings):
    settings.ROOT_URLCONF = "tests.core.boom_urls"
    settings.DEBUG = False
    transport = MemoryTransport()
    assert configure_error_tracking("https://public@sentry.invalid/1", transport=transport)
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # back to a disabled client for the rest of the suite


def _exception_values(event: dict) -> list[tuple[str, str]]:
    return [(v["type"], v.get("value", "")) for v in event["exception"]["values"]]


def test_api_crash_is_reported_and_still_answers_in_the_envelope(tracker):
    response = APIClient(raise_request_exception=False).get("/boom/crash/")
    assert response.status_code == 500 and response.json()["error_code"] == "INTERNAL_ERROR"
    sentry_sdk.flush(timeout=2)
    assert [t for t, _ in _exception_values(tracker.events[0])] == ["RuntimeError"]
    assert tracker.events[0]["transaction"] == "/boom/{kind}/"  # the route, not the raw path
    assert len(tracker.events) == 1


def test_plain_django_view_crash_is_reported(tracker):
    response = Client(raise_request_exception=False).get("/plain-crash/")
    assert response.status_code == 500
    sentry_sdk.flush(timeout=2)
    assert [t for t, _ in _exception_values(tracker.events[0])] == ["RuntimeError"]


def test_handled_errors_are_not_reported(tracker):
    for kind in ("service", "conflict", "django-validation"):
        assert APIClient().get(f"/boom/{kind}/").status_code < 500
    sentry_sdk.flush(timeout=2)
    assert tracker.events == []


def test_api_crash_sends_djangos_signal(settings):
    settings.ROOT_URLCONF = "tests.core.boom_urls"
    seen = []

    def receiver(sender, request, **kwargs):
        seen.append(request.path)

    got_request_exception.connect(receiver)
    try:
        APIClient(raise_request_exception=False).get("/boom/crash/")
    finally:
        got_request_exception.disconnect(receiver)
    assert seen == ["/boom/crash/"]


def test_no_dsn_starts_nothing():
    assert configure_error_tracking("") is False
