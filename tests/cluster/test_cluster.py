"""TutorHub scaled out (issue 15): two servers behind nginx, two workers and a scheduler on one
PostgreSQL, Redis and Chroma server, started by deploy/local-cluster. Each test talks to the
cluster as clients would (HTTP and WebSockets through nginx, or to one server's own port when
the test needs to pin a socket to a server) and reads the shared database to count what ran.

Order matters: the kill tests come last (a killed worker or server is not restarted here).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.cluster

SETUP = """
import datetime
from rest_framework_simplejwt.tokens import AccessToken
from tests.factories import CourseFactory, GroupFactory, UserFactory
from tutorhub.courses.models import Lesson
from tutorhub.courses.services import schedule_create
import secrets
UserFactory.reset_sequence(secrets.randbelow(10**9))  # usernames unique in a reused cluster too
student = UserFactory(role="student")
course = CourseFactory(owner=student)
group = GroupFactory()
group.students.add(student)
schedule_create(group=group, day_of_week=0, start_time=datetime.time(18), duration_minutes=90)
lessons = list(Lesson.objects.filter(group=group).order_by("scheduled_date").values_list("pk", flat=True)[:2])
# A class uploading at once: four students, 50 documents each (a free plan holds 100 a month).
uploaders = []
for _ in range(4):
    classmate = UserFactory(role="student")
    uploaders.append([str(CourseFactory(owner=classmate).pk), str(AccessToken.for_user(classmate))])
print("CLUSTER-SETUP " + json.dumps({"uploaders": uploaders,
    "student": student.pk, "course": str(course.pk), "token": str(AccessToken.for_user(student)),
    "teacher_token": str(AccessToken.for_user(group.teacher)), "lessons": lessons,
}))
"""
DOCUMENT_TASK = "tutorhub.knowledge.tasks.document_process_task"


@pytest.fixture(scope="module")
def people(cluster) -> dict:
    out = cluster.python("import json\n" + SETUP)
    return json.loads(next(line for line in out.splitlines() if line.startswith("CLUSTER-SETUP "))[14:])


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _server_urls(cluster) -> list[str]:
    return [f"127.0.0.1:{p['port']}" for p in cluster.processes("web")]


async def _chat(ws_base: str, token: str, text: str) -> tuple[list[dict], dict]:
    async with connect(f"{ws_base}/ws/chat/?token={token}", open_timeout=30) as chat:
        await chat.send(json.dumps({"message": text}))
        partials = []
        while (event := json.loads(await asyncio.wait_for(chat.recv(), 60)))["type"] not in ("final", "error"):
            if event["type"] == "partial":
                partials.append(event)
        return partials, event


async def _next_frame(ws, kind: str, timeout: float, match=lambda frame: True) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
        if frame["type"] == kind and match(frame):
            return frame


def _upload(client: httpx.Client | httpx.AsyncClient, course: str, token: str, name: str, body: bytes):
    return client.post(
        f"/api/v1/courses/{course}/documents/upload/", headers=_auth(token),
        files={"file": (name, body, "text/plain")},
    )


def _ws_log_lines(cluster, index: int) -> int:
    return cluster.log(f"web{index}").count("WebSocket /ws/chat/")


# --- chat and live events across servers ---------------------------------------------------------
def test_chats_stream_through_nginx_whichever_server_takes_them(cluster, people):
    before = [_ws_log_lines(cluster, i) for i in (1, 2)]

    async def many():
        return await asyncio.gather(*(
            _chat(cluster.ws_url, people["token"], f"What is momentum? (question {i})") for i in range(8)
        ))

    for partials, final in asyncio.run(many()):
        assert final["type"] == "final" and final["reply"], final
        assert partials, "the answer was not streamed"
    taken = [_ws_log_lines(cluster, i) - before[i - 1] for i in (1, 2)]
    # nginx balances on open connections: eight at once land on both servers.
    assert sum(taken) == 8 and all(taken), taken


def test_a_notification_raised_by_a_request_on_one_server_reaches_a_socket_on_the_other(cluster, people):
    a, b = _server_urls(cluster)

    async def scenario(hold: str, act: str, lesson: int) -> dict:
        async with connect(f"ws://{hold}/ws/notifications/?token={people['token']}", open_timeout=30) as notes:
            assert json.loads(await asyncio.wait_for(notes.recv(), 20))["type"] == "connected"
            async with httpx.AsyncClient(base_url=f"http://{act}", timeout=60) as client:
                response = await client.post(
                    "/api/v1/attendance/bulk-mark/", headers=_auth(people["teacher_token"]),
                    json={"lesson_id": lesson, "attendance_data": [{"student": people["student"], "status": "present"}]},
                )
            assert response.status_code == 200, response.text
            return await _next_frame(notes, "notification", 10, lambda f: f.get("kind") == "attendance_marked")

    for hold, act, lesson in ((a, b, people["lessons"][0]), (b, a, people["lessons"][1])):
        frame = asyncio.run(scenario(hold, act, lesson))
        assert frame["data"]["lesson_id"] == lesson, frame


def test_a_notification_raised_by_a_task_on_a_worker_reaches_sockets_on_both_servers(cluster, people):
    title = f"From a worker {random.randrange(10**9)}"

    async def scenario() -> list[dict]:
        sockets = [await connect(f"ws://{u}/ws/notifications/?token={people['token']}", open_timeout=30)
                   for u in _server_urls(cluster)]
        try:
            for ws in sockets:
                assert json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] == "connected"
            await asyncio.to_thread(
                cluster.python, f"from tests.core.worker_tasks import notify; notify.enqueue({people['student']}, {title!r})"
            )
            return [await _next_frame(ws, "notification", 30, lambda f: f.get("title") == title) for ws in sockets]
        finally:
            for ws in sockets:
                await ws.close()

    frames = asyncio.run(scenario())
    assert len(frames) == 2
    ran_by = cluster.sql(
        "SELECT worker_ids FROM django_tasks_database_dbtaskresult WHERE task_path LIKE %s AND args_kwargs::text LIKE %s",
        ("%worker_tasks.notify", f"%{title}%"),
    )
    assert ran_by and ran_by[0][0], ran_by  # a worker process ran it, not the enqueueing shell


# --- work distribution ---------------------------------------------------------------------------
def test_200_documents_uploaded_at_once_are_each_processed_exactly_once(cluster, people):
    async def upload_all() -> list[str]:
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=cluster.url, timeout=120, limits=limits) as client:
            responses = await asyncio.gather(*(
                _upload(client, *people["uploaders"][i % 4], f"burst{i}.txt",
                        f"Burst document {i}. Momentum is mass times velocity; energy is conserved. ".encode() * 20)
                for i in range(200)
            ))
        assert [r.status_code for r in responses] == [201] * 200, [r.text for r in responses if r.status_code != 201][:3]
        return [r.json()["document"]["id"] for r in responses]

    ids = asyncio.run(upload_all())
    deadline = time.monotonic() + 300

    def states():
        return dict(cluster.sql(
            "SELECT processing_status, count(*) FROM knowledge_document WHERE id = ANY(%s::uuid[]) GROUP BY 1", (ids,)
        ))

    while time.monotonic() < deadline and states().get("completed", 0) < 200:
        time.sleep(2)
    assert states() == {"completed": 200}, states()

    # Processing runs, counted two ways: the document's own attempt counter (bumped by every run
    # of the pipeline) and the queue rows (one per enqueue; worker_ids grows on every claim).
    attempts = cluster.sql("SELECT attempts, count(*) FROM knowledge_document WHERE id = ANY(%s::uuid[]) GROUP BY 1", (ids,))
    assert attempts == [(1, 200)], attempts
    rows = cluster.sql(
        "SELECT args_kwargs->'args'->>0, worker_ids FROM django_tasks_database_dbtaskresult WHERE task_path = %s "
        "AND args_kwargs->'args'->>0 = ANY(%s)", (DOCUMENT_TASK, ids),
    )
    per_document = {}
    for document_id, workers in rows:
        per_document.setdefault(document_id, []).extend(workers)
    assert sorted(per_document) == sorted(ids)
    assert all(len(workers) == 1 for workers in per_document.values()), {k: v for k, v in per_document.items() if len(v) != 1}
    by_worker = {}
    for (worker,) in per_document.values():
        by_worker[worker] = by_worker.get(worker, 0) + 1
    assert len(by_worker) == 2, by_worker  # both workers took a share
    print(f"\n200 documents: runs per worker {sorted(by_worker.values())}")


def test_two_schedulers_enqueue_each_periodic_job_once_per_period(cluster):
    # Two more schedulers beside the cluster's own, checking every 0.2 s: three at once.
    env = {**cluster.env(), "TUTORHUB_CLUSTER_STATE": str(cluster.state)}  # stop's leftover check sees them
    logs = [cluster.state / "logs" / f"test-scheduler{i}.log" for i in (1, 2)]
    extra = [
        subprocess.Popen([sys.executable, "manage.py", "run_scheduler", "--interval", "0.2"], cwd=ROOT,
                         env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)  # noqa: SIM115
        for log in logs
    ]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all("periodic jobs" in log.read_text() for log in logs):
            time.sleep(0.2)
        rounds = 3
        (start,) = cluster.sql("SELECT now()")[0]
        for _ in range(rounds):
            # A new period for every job (the longest is 7 days) at the same instant for all three.
            cluster.sql("UPDATE core_scheduledjobrun SET last_run_at = now() - interval '8 days'")
            time.sleep(4)
        jobs = [name for (name,) in cluster.sql("SELECT name FROM core_scheduledjobrun")]
        counts = dict(cluster.sql(
            "SELECT task_path, count(*) FROM django_tasks_database_dbtaskresult WHERE enqueued_at >= %s "
            "AND task_path = ANY(%s) GROUP BY 1", (start, jobs),
        ))
    finally:
        for process in extra:
            os.killpg(process.pid, signal.SIGTERM)
        for process in extra:
            process.wait(timeout=20)
            process.stdout and process.stdout.close()
    assert len(jobs) >= 5
    # Each job once per period: the every-minute jobs cannot come due again within these seconds.
    assert counts == {job: rounds for job in jobs}, counts
    # The test's schedulers really took part. Not "each of them": whichever wakes first after a
    # period opens takes every due job of that round, so one of two can lose all three rounds.
    assert any("scheduler: enqueued" in log.read_text() for log in logs), [log.read_text()[-500:] for log in logs]


# --- failures ------------------------------------------------------------------------------------
def test_a_worker_killed_mid_document_the_other_finishes_it_within_60s(cluster, people):
    # A document that keeps a worker busy for seconds (extraction, chunking, indexing, embedding)
    # yet is finished well inside the 60 s, lease expiry (about 35 s) included.
    rng = random.Random(15)
    words = "momentum velocity energy force mass acceleration gravity friction torque inertia vector".split()
    body = "".join(" ".join(rng.choice(words) for _ in range(12)) + ".\n" for _ in range(300)).encode()
    with httpx.Client(base_url=cluster.url, timeout=120) as client:
        response = _upload(client, people["course"], people["token"], "big.txt", body)
    assert response.status_code == 201, response.text
    document_id = response.json()["document"]["id"]

    def holder():
        rows = cluster.sql(
            "SELECT h.worker_id, h.pid FROM core_workerheartbeat h JOIN django_tasks_database_dbtaskresult t "
            "ON t.id = h.current_task_id JOIN knowledge_document d ON d.processing_task_id = t.id::text "
            "WHERE d.id = %s AND d.processing_status = 'processing'", (document_id,),
        )
        return rows[0] if rows else None

    deadline = time.monotonic() + 60
    while (held := holder()) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert held, cluster.sql("SELECT processing_status FROM knowledge_document WHERE id = %s", (document_id,))
    worker_id, pid = held
    assert pid in [p["pid"] for p in cluster.processes("worker")]
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()

    while time.monotonic() - killed_at < 60:
        (status, attempts, task_id), = cluster.sql(
            "SELECT processing_status, attempts, processing_task_id FROM knowledge_document WHERE id = %s", (document_id,)
        )
        if status in ("completed", "failed"):
            break
        time.sleep(0.5)
    took = time.monotonic() - killed_at
    assert status == "completed", (status, took)
    assert took < 60
    (workers,), = cluster.sql("SELECT worker_ids FROM django_tasks_database_dbtaskresult WHERE id::text = %s", (task_id,))
    assert workers[-1] != worker_id, workers  # the surviving worker finished it
    assert attempts >= 2
    print(f"\nworker killed mid-document: finished by the other worker {took:.1f} s later (attempts {attempts})")


def test_a_server_killed_nginx_keeps_serving_and_no_acknowledged_message_is_lost(cluster, people):
    token = people["token"]
    acknowledged: list[tuple[str, str]] = []  # (session id, text) of every 2xx answer
    with httpx.Client(base_url=cluster.url, timeout=60, headers=_auth(token)) as client:
        session = client.post("/api/v1/chat/chats/", json={"title": "Before and after"})
        assert session.status_code == 201, session.text
        session_id = session.json()["id"]

        async def sockets_and_messages():
            # One notifications socket per server, then messages while one server dies.
            held = [await connect(f"{cluster.ws_url}/ws/notifications/?token={token}", open_timeout=30) for _ in range(4)]
            for ws in held:
                assert json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] == "connected"
            async with httpx.AsyncClient(base_url=cluster.url, timeout=60, headers=_auth(token)) as aclient:

                async def send(i: int) -> None:
                    text = f"Acknowledged message {i}"
                    try:
                        response = await aclient.post(f"/api/v1/chat/chats/{session_id}/send_message/",
                                                      json={"content": text})
                    except httpx.TransportError:
                        return
                    if response.is_success:
                        acknowledged.append((session_id, text))

                sends = [asyncio.create_task(send(i)) for i in range(6)]
                await asyncio.sleep(0.3)
                victim = cluster.processes("web")[0]
                os.kill(victim["pid"], signal.SIGKILL)
                sends += [asyncio.create_task(send(i)) for i in range(6, 12)]
                await asyncio.gather(*sends)
            closed = 0
            for ws in held:
                try:
                    await asyncio.wait_for(ws.recv(), 2)
                except ConnectionClosed:  # held by the killed server: nginx closed it
                    closed += 1
                except TimeoutError:  # held by the survivor: open and idle
                    pass
                await ws.close()
            return closed

        # nginx spread the four sockets over both servers; the victim's were closed.
        assert asyncio.run(sockets_and_messages()) >= 1
        time.sleep(1)

        # New requests: every one answered, by the surviving server.
        statuses = [client.get("/api/v1/chat/chats/").status_code for _ in range(20)]
        assert statuses == [200] * 20, statuses

        # WebSocket reconnects through nginx: notifications and a streamed chat.
        async def reconnect():
            async with connect(f"{cluster.ws_url}/ws/notifications/?token={token}", open_timeout=30) as notes:
                assert json.loads(await asyncio.wait_for(notes.recv(), 20))["type"] == "connected"
            return await _chat(cluster.ws_url, token, "After the crash: what is momentum?")

        for _ in range(4):
            partials, final = asyncio.run(reconnect())
            assert final["type"] == "final" and partials, final

        stored = client.get(f"/api/v1/chat/chats/{session_id}/messages/", params={"page_size": 100}).json()
        rows = stored["results"] if isinstance(stored, dict) else stored
        texts = {row["content"] for row in rows if row["role"] == "user"}
    assert acknowledged, "no message was acknowledged at all"
    lost = [text for _, text in acknowledged if text not in texts]
    assert not lost, lost
