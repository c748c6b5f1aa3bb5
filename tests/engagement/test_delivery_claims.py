"""Two workers given the same webhook or notification delivery at once send it once."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from tests.core.concurrency import run_together
from tests.engagement.fakes import FakeMessagingServer
from tests.factories import UserFactory
from tutorhub.engagement.models import Notification, NotificationDelivery, WebhookDelivery, WebhookEndpoint
from tutorhub.engagement.services import notification_delivery_attempt
from tutorhub.engagement.webhooks import webhook_delivery_attempt


class SlowServer(FakeMessagingServer):
    """Answers after a pause, so a second worker has time to reach a delivery the first is sending."""

    def __init__(self, pause: float):
        super().__init__()
        handler = self.httpd.RequestHandlerClass
        original = handler.do_POST

        def slow_post(request):
            time.sleep(pause)
            original(request)

        handler.do_POST = slow_post


@pytest.fixture
def slow_server():
    server = SlowServer(pause=0.3)
    yield server
    server.stop()


def _skip_in_memory_sqlite():
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memorydb"):
        pytest.skip("needs a file or server database")


@pytest.mark.django_db(transaction=True)
def test_two_workers_send_a_webhook_once(settings, slow_server):
    _skip_in_memory_sqlite()
    settings.WEBHOOK_ALLOW_PRIVATE = True
    endpoint = WebhookEndpoint.objects.create(
        owner=UserFactory(), url=f"{slow_server.base_url}/hook", events=["document.processing.completed"], secret="s"
    )
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="document.processing.completed", payload={"x": 1})
    results = run_together(lambda _: webhook_delivery_attempt(delivery_id=delivery.pk))
    assert sorted(results, key=str) == [None, "succeeded"]  # one sent; the other found it claimed
    assert len(slow_server.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 1 and delivery.last_status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_workers_send_a_notification_once(settings, slow_server):
    _skip_in_memory_sqlite()
    settings.NOTIFICATION_CHANNELS = {
        "sms": {"BACKEND": "tutorhub.engagement.delivery.SmsChannel", "OPTIONS": {"url": f"{slow_server.base_url}/sms", "api_key": "k"}}
    }
    user = UserFactory(phone_number="+998901234567")
    note = Notification.objects.create(user=user, kind="lesson_reminder", title="Soon")
    delivery = NotificationDelivery.objects.create(notification=note, channel="sms")
    results = run_together(lambda _: notification_delivery_attempt(delivery_id=delivery.pk))
    assert sorted(results, key=str) == [None, "sent"]
    assert len(slow_server.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 1
