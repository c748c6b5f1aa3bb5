"""Live events cross processes on the default stack (no Redis): a notification raised inside
the task worker reaches a WebSocket held by the server process, end to end with real
processes (runall: server + worker + scheduler) and a real WebSocket client."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime

import httpx
import pytest
from websockets.sync.client import connect

from tests.core.processes import free_port, http_ok, wait_for

CREATE_USER = """
from rest_framework_simplejwt.tokens import AccessToken
from tests.factories import CourseFactory
from tutorhub.accounts.models import User
user = User.objects.create_user(username="events", email="events@example.com", password="pw-events-123456")
print(user.pk, CourseFactory(owner=user).pk, AccessToken.for_user(user))
"""


def test_a_notification_raised_in_the_worker_reaches_the_servers_socket_within_2s(process_site):
    site = process_site(TASK_HEARTBEAT_SECONDS=0.5)
    user_id, course_id, token = site.python(CREATE_USER).split()[-3:]
    port = free_port()
    site.start("runall", "--port", str(port), log="runall.log")
    assert wait_for(lambda: http_ok(port, "/readyz"), 90, 0.3), site.log("runall.log")
    assert wait_for(lambda: site.query("SELECT count(*) FROM core_workerheartbeat")[0][0], 30, 0.2)

    with connect(f"ws://127.0.0.1:{port}/ws/notifications/?token={token}", open_timeout=20) as ws:
        assert json.loads(ws.recv(timeout=20))["type"] == "connected"
        # Enqueued from a third process; the worker process runs it and raises the notification.
        site.python(f"from tests.core.worker_tasks import notify; notify.enqueue({user_id}, 'Homework checked')")
        frame = json.loads(ws.recv(timeout=15))
        received = time.time()
        assert frame["type"] == "notification" and frame["title"] == "Homework checked"
        raised = datetime.fromisoformat(frame["created_at"].replace("Z", "+00:00")).timestamp()
        assert received - raised < 2.0, f"{received - raised:.2f} s from the worker to the socket"
        ran_by = site.query("SELECT worker_ids FROM django_tasks_database_dbtaskresult WHERE task_path LIKE '%notify'")
        assert ran_by and json.loads(ran_by[0][0])  # it really went through the worker

        # A document uploaded to the server is processed by the worker; its progress comes back.
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/courses/{course_id}/documents/upload/",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": ("notes.txt", b"Momentum is mass times velocity. " * 20, "text/plain")}, timeout=30,
        )
        assert response.status_code == 201, response.text
        document_id = response.json()["document"]["id"]
        progress = []
        while not progress or progress[-1]["processing_status"] not in ("completed", "failed"):
            frame = json.loads(ws.recv(timeout=30))
            if frame["type"] == "document_progress" and frame["document_id"] == document_id:
                progress.append(frame)
    assert progress[-1]["processing_status"] == "completed" and progress[-1]["progress_percentage"] == 100
    percentages = [f["progress_percentage"] for f in progress]
    assert len(percentages) >= 3 and percentages == sorted(percentages)


# --- the layer's rules, in one process with two layer instances (two "processes") -----------
@pytest.mark.django_db(transaction=True)
def test_group_messages_cross_layer_instances_once_and_skip_their_own():
    from tutorhub.core.channels_db import DatabaseChannelLayer

    async def scenario():
        server, worker = DatabaseChannelLayer(poll_interval=0.05), DatabaseChannelLayer(poll_interval=0.05)
        try:
            channel = await server.new_channel()
            await server.group_add("notifications.user.1", channel)
            await asyncio.sleep(0.1)
            await worker.group_send("notifications.user.1", {"type": "notification.message", "n": 1})
            await worker.group_send("notifications.user.2", {"type": "notification.message", "n": 2})  # nobody here
            first = await asyncio.wait_for(server.receive(channel), 2)
            await server.group_send("notifications.user.1", {"type": "notification.message", "n": 3})  # local
            second = await asyncio.wait_for(server.receive(channel), 2)
            await asyncio.sleep(0.3)  # several polls: nothing is delivered twice, own rows skipped
            assert server.channels.get(channel) is None or server.channels[channel].empty()
            return first, second
        finally:
            await server.close()
            await worker.close()

    first, second = asyncio.run(scenario())
    assert first == {"type": "notification.message", "n": 1}
    assert second == {"type": "notification.message", "n": 3}
