"""End to end: the ASGI application served by a real uvicorn on a loopback port, driven by a
real `websockets` client (and httpx for the HTTP side), with both LLM backends."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from channels.db import database_sync_to_async
from rest_framework_simplejwt.tokens import RefreshToken
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tutorhub.chat.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def live_server_url():
    from tutorhub.asgi import application

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, lifespan="off", log_level="warning", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@database_sync_to_async
def _token(user) -> str:
    return str(RefreshToken.for_user(user).access_token)


async def _ask(ws, payload: dict) -> tuple[list[dict], dict]:
    await ws.send(json.dumps(payload))
    events = []
    while True:
        event = json.loads(await ws.recv())
        if event.get("type") in ("final", "error"):
            return events, event
        events.append(event)


async def test_anonymous_websocket_is_refused(live_server_url):
    with pytest.raises(InvalidStatus):
        async with connect(f"ws://{live_server_url}/ws/chat/"):
            pass


async def test_offline_tutor_over_a_real_server(live_server_url, user, chat_session):
    token = await _token(user)
    async with httpx.AsyncClient(base_url=f"http://{live_server_url}") as http:
        listed = await http.get("/api/v1/chat/chats/", headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200 and listed.json()["count"] == 1
    async with connect(f"ws://{live_server_url}/ws/chat/?token={token}&session_id={chat_session.pk}") as ws:
        events, final = await _ask(ws, {"message": "What is calculus?", "tts": True})
        assert events[0]["type"] == "status" and events[0]["value"] == "typing"
        partials = [e["text"] for e in events if e["type"] == "partial"]
        assert partials and "".join(partials) == final["reply"]
        assert final["session_id"] == str(chat_session.pk) and final["model"] == "tutorhub-offline-chat"
        assert final["content_type"] == "audio/wav" and final["audio_b64"]
    assert await Message.objects.filter(session=chat_session).acount() == 2


async def test_openai_backend_and_a_dropped_stream_over_a_real_server(live_server_url, user, chat_session, fake_openai):
    fake_openai.push(text="first answer arrives whole")
    fake_openai.push(text="this one breaks off", drop_after=2)
    fake_openai.push(text="back to normal")
    async with connect(f"ws://{live_server_url}/ws/chat/?token={await _token(user)}") as ws:
        sid = str(chat_session.pk)
        _, final = await _ask(ws, {"message": "one", "session_id": sid})
        assert final["reply"] == "first answer arrives whole" and final["model"] == "fake-gpt"
        events, error = await _ask(ws, {"message": "two", "session_id": sid})
        assert error["type"] == "error" and error["session_id"] == sid
        assert "".join(e["text"] for e in events if e["type"] == "partial") == "this one "
        _, final = await _ask(ws, {"message": "three", "session_id": sid})
        assert final["reply"] == "back to normal"
    rows = [(m.role, m.content, m.is_complete) async for m in Message.objects.filter(session=chat_session)]
    assert rows[3] == ("assistant", "this one ", False) and len(rows) == 6


async def test_answer_is_stored_whole_when_the_client_leaves_mid_stream(live_server_url, user, chat_session, fake_openai):
    import asyncio

    fake_openai.token_delay = 0.05
    fake_openai.push(text="one two three four five six seven eight")
    async with connect(f"ws://{live_server_url}/ws/chat/?token={await _token(user)}") as ws:
        await ws.send(json.dumps({"message": "count to eight", "session_id": str(chat_session.pk)}))
        while json.loads(await ws.recv()).get("type") != "partial":
            pass
    for _ in range(60):  # the server keeps reading the model after the socket closed
        answer = await Message.objects.filter(session=chat_session, role="assistant").afirst()
        if answer:
            break
        await asyncio.sleep(0.05)
    assert answer is not None and answer.is_complete and answer.content == "one two three four five six seven eight"
