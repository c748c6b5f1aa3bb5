"""Two workers given the same webhook or notification delivery at once send it once."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

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


def _race(target) -> list:
    barrier = threading.Barrier(2)
    results: list = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(target())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return results


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
    results = _race(lambda: webhook_delivery_attempt(delivery_id=delivery.pk))
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
    results = _race(lambda: notification_delivery_attempt(delivery_id=delivery.pk))
    assert sorted(results, key=str) == [None, "sent"]
    assert len(slow_server.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 1
