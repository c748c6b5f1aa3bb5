"""/readyz checks every dependency and is 503 when one is down, quickly."""

from __future__ import annotations

import time

import pytest

from tests.core.processes import free_port
from tutorhub.core import views

pytestmark = pytest.mark.django_db(transaction=True)


def _closed() -> str:
    return f"127.0.0.1:{free_port()}"  # nothing listens there


def test_all_dependencies_up_is_200_with_one_key_each(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "status": "ok", "database": "ok", "cache": "ok", "channel_layer": "ok", "vector_store": "ok",
    }


def test_database_queue_reports_the_worker_and_the_queue(client, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    body = client.get("/readyz").json()
    assert body["status"] == "ok"
    assert body["worker"] == {"status": "idle", "worker_heartbeat_age_seconds": None, "oldest_queued_task_age_seconds": None}


def test_cache_down_is_503(client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://{_closed()}/0"}}
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["cache"] == "unreachable"
    assert body["database"] == "ok" and body["vector_store"] == "ok"


def test_channel_layer_down_is_503(client, settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [f"redis://{_closed()}/0"]}}
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["channel_layer"] == "unreachable"


def test_vector_store_down_is_503(client, settings):
    settings.VECTOR_STORES = {
        "default": {"BACKEND": "tutorhub.ai.backends.chroma.ChromaVectorStore", "OPTIONS": {"url": f"http://{_closed()}"}}
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["vector_store"] == "unreachable"


def test_a_hanging_dependency_times_out_instead_of_hanging(client, settings, monkeypatch):
    settings.READYZ_CHECK_TIMEOUT_SECONDS = 0.3
    monkeypatch.setattr(views, "_cache", lambda: time.sleep(3))
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 2
    assert response.status_code == 503 and response.json()["cache"] == "unreachable"


@pytest.mark.parametrize(
    ("beat", "oldest", "state", "blocking"),
    [
        (None, None, "idle", False),  # nothing has run and nothing waits
        (3.0, None, "ok", False),
        (3.0, 600.0, "ok", False),  # a long queue behind a live worker is load, not an outage
        (900.0, None, "stale", False),  # worker gone, nothing waiting: a warning
        (900.0, 5.0, "stale", False),  # a task just queued: give the worker time to be restarted
        (900.0, 300.0, "stalled", True),  # work waits and no worker beats: not ready
        (None, 300.0, "stalled", True),
    ],
)
def test_worker_state(settings, beat, oldest, state, blocking):
    settings.READYZ_QUEUE_STALL_SECONDS = 120
    settings.TASK_LEASE_SECONDS = 30
    queue = {"worker_heartbeat_age_seconds": beat, "oldest_queued_task_age_seconds": oldest}
    assert views._worker_state(queue) == (state, blocking)
