from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import mail
from django.db import connection
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from tests.conftest import client_for
from tests.factories import UserFactory
from tutorhub.asgi import application
from tutorhub.engagement.models import Notification, NotificationDelivery, NotificationPreference
from tutorhub.engagement.services import (
    notification_create,
    notification_deliveries_retry_due,
    notification_preference_update,
)

pytestmark = pytest.mark.django_db

SEED_PREFS = {
    "telegram_enabled": True,
    "sms_enabled": True,
    "email_enabled": True,
    "telegram_chat_id": "123456789",
    "phone_number": "+998901234567",
    "payment_notifications": True,
    "homework_notifications": True,
    "lesson_notifications": True,
    "attendance_notifications": True,
    "gamification_notifications": True,
}


def test_list_and_mark_read(api_client, user, other_user):
    mine = notification_create(user=user, kind="lesson_reminder", title="Lesson soon")
    theirs = notification_create(user=other_user, kind="lesson_reminder", title="Not yours")
    body = api_client.get("/api/v1/notifications/").json()
    assert [n["id"] for n in body["results"]] == [mine.pk]
    assert api_client.get("/api/v1/notifications/unread-count/").json() == {"unread_count": 1}
    resp = api_client.post(f"/api/v1/notifications/{mine.pk}/mark-read/")
    assert resp.status_code == 200 and resp.json()["is_read"] is True and resp.json()["read_at"]
    assert api_client.get("/api/v1/notifications/?is_read=false").json()["count"] == 0
    assert api_client.post(f"/api/v1/notifications/{theirs.pk}/mark-read/").status_code == 404
    assert api_client.post("/api/v1/notifications/abc/mark-read/").status_code == 404
    notification_create(user=user, kind="x", title="another")
    assert api_client.post("/api/v1/notifications/mark-all-read/").json() == {"marked": 1}


def test_preferences_put_with_seed_fields(api_client, user):
    resp = api_client.put("/api/v1/notifications/preferences/me/", SEED_PREFS, format="json")
    assert resp.status_code == 200, resp.json()
    assert {k: resp.json()[k] for k in SEED_PREFS} == SEED_PREFS
    assert api_client.get("/api/v1/notifications/preferences/me/").json()["telegram_chat_id"] == "123456789"
    resp = api_client.patch("/api/v1/notifications/preferences/me/", {"sms_enabled": False}, format="json")
    assert resp.json()["sms_enabled"] is False and resp.json()["telegram_enabled"] is True


@pytest.mark.parametrize(
    "bad",
    [
        {"telegram_enabled": True, "telegram_chat_id": ""},
        {"sms_enabled": True, "phone_number": ""},
        {"phone_number": "call me maybe"},
        {"telegram_chat_id": "not a chat"},
        {"email_enabled": "sometimes"},
    ],
)
def test_preferences_bad_input(api_client, bad):
    resp = api_client.put("/api/v1/notifications/preferences/me/", {**SEED_PREFS, **bad}, format="json")
    assert resp.status_code == 400
    assert not NotificationPreference.objects.filter(telegram_chat_id="123456789").exists()


def test_anonymous_is_refused(anon_client):
    assert anon_client.get("/api/v1/notifications/").status_code == 401
    assert anon_client.put("/api/v1/notifications/preferences/me/", SEED_PREFS, format="json").status_code == 401


def test_delivery_on_all_enabled_channels(user, messaging, run_on_commit):
    notification_preference_update(user=user, data=SEED_PREFS)
    run_on_commit(notification_create, user=user, kind="payment_due", title="Payment due", message="Pay by Friday")
    assert [m.to for m in mail.outbox] == [[user.email]] and mail.outbox[0].subject == "Payment due"
    telegram = next(r for r in messaging.requests if r[0] == "/telegram/bot123:ABC/sendMessage")
    assert telegram[1] == {"chat_id": "123456789", "text": "Payment due\n\nPay by Friday"}
    sms = next(r for r in messaging.requests if r[0] == "/sms/send")
    assert sms[1]["to"] == "+998901234567" and sms[2]["Authorization"] == "Bearer sms-key"
    assert set(NotificationDelivery.objects.values_list("channel", "status")) == {
        ("email", "sent"),
        ("telegram", "sent"),
        ("sms", "sent"),
    }


def test_category_switch_and_channel_switch_are_respected(user, messaging, run_on_commit):
    notification_preference_update(user=user, data={**SEED_PREFS, "payment_notifications": False, "sms_enabled": False})
    run_on_commit(notification_create, user=user, kind="payment_due", title="Payment due")
    assert not NotificationDelivery.objects.exists() and not mail.outbox and not messaging.requests
    assert Notification.objects.filter(user=user, kind="payment_due").exists()  # in-app always
    run_on_commit(notification_create, user=user, kind="lesson_reminder", title="Lesson soon")
    assert sorted(NotificationDelivery.objects.values_list("channel", flat=True)) == ["email", "telegram"]


def test_transient_failures_are_retried_then_sent(user, messaging, run_on_commit):
    notification_preference_update(user=user, data={**SEED_PREFS, "email_enabled": False, "sms_enabled": False})
    messaging.statuses.extend([502, 429])
    run_on_commit(notification_create, user=user, kind="homework_reviewed", title="Approved")
    delivery = NotificationDelivery.objects.get()
    assert delivery.status == "sent" and delivery.attempts == 3
    assert len(messaging.requests) == 3


def test_retries_give_up_and_permanent_errors_stop_at_once(user, messaging, run_on_commit, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    notification_preference_update(user=user, data={**SEED_PREFS, "email_enabled": False, "telegram_enabled": False})
    messaging.statuses.extend([500, 500, 500])
    run_on_commit(notification_create, user=user, kind="homework_reviewed", title="Approved")
    delivery = NotificationDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == 2 and "HTTP 500" in delivery.last_error

    other = UserFactory()
    notification_preference_update(user=other, data={**SEED_PREFS, "email_enabled": False, "sms_enabled": False})
    messaging.statuses.clear()
    messaging.statuses.append(400)  # Telegram: chat not found
    run_on_commit(notification_create, user=other, kind="homework_reviewed", title="Approved")
    delivery = NotificationDelivery.objects.get(notification__user=other)
    assert delivery.status == "failed" and delivery.attempts == 1


def test_unreachable_provider_is_transient(user, settings, run_on_commit):
    settings.NOTIFICATION_CHANNELS = {
        "sms": {"BACKEND": "tutorhub.engagement.delivery.SmsChannel", "OPTIONS": {"url": "http://127.0.0.1:9/sms", "timeout": 1}}
    }
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    notification_preference_update(user=user, data=SEED_PREFS)
    run_on_commit(notification_create, user=user, kind="lesson_reminder", title="Soon")
    # The immediate task backend cannot defer the retry: it waits its backoff for the sweep.
    delivery = NotificationDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert notification_deliveries_retry_due() == 0  # not due yet
    assert notification_deliveries_retry_due(now=timezone.now() + timedelta(minutes=1)) == 1
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 2 and "ConnectError" in delivery.last_error


def test_rolled_back_event_sends_nothing(user, messaging, django_capture_on_commit_callbacks):
    from django.db import transaction

    notification_preference_update(user=user, data=SEED_PREFS)
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                notification_create(user=user, kind="payment_due", title="Payment due")
                raise RuntimeError("the payment failed to save")
        except RuntimeError:
            pass
    assert not Notification.objects.exists() and not messaging.requests and not mail.outbox


@pytest.mark.django_db(transaction=True)
async def test_live_push_on_websocket_only_to_its_user():
    def make():
        people = [UserFactory(), UserFactory()]
        return people, [str(RefreshToken.for_user(p).access_token) for p in people]

    (alice, bob), tokens = await database_sync_to_async(make)()
    sockets = {}
    for name, token in zip(("alice", "bob"), tokens, strict=True):
        sockets[name] = WebsocketCommunicator(application, f"/ws/notifications/?token={token}")
        assert (await sockets[name].connect())[0]
        assert (await sockets[name].receive_json_from())["unread_count"] == 0
    created = await database_sync_to_async(notification_create)(
        user=alice, kind="coins_awarded", title="You earned 5 coins", data={"amount": 5}
    )
    message = await sockets["alice"].receive_json_from(timeout=3)
    assert message["type"] == "notification" and message["id"] == created.pk and message["data"] == {"amount": 5}
    assert await sockets["bob"].receive_nothing(timeout=0.2)
    await sockets["alice"].send_json_to({"action": "mark_read", "id": 999999})
    assert (await sockets["alice"].receive_json_from())["type"] == "error"
    await sockets["bob"].send_json_to({"action": "mark_read", "id": created.pk})  # not Bob's
    assert (await sockets["bob"].receive_json_from())["type"] == "error"
    for socket in sockets.values():
        await socket.disconnect()
    await database_sync_to_async(lambda: connection.close())()  # the worker thread's connection, so the test DB can be dropped


def test_query_count_of_notification_list(api_client, user, django_assert_max_num_queries):
    for i in range(15):
        notification_create(user=user, kind="x", title=f"n{i}")
    with django_assert_max_num_queries(3):
        assert api_client.get("/api/v1/notifications/").json()["count"] == 15


def test_client_for_is_used():
    assert callable(client_for)
