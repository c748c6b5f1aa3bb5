"""`ws/chat/` (chatbot dialect): stream the tutor's answer token by token.

Client -> server:
    {"message": "...", "session_id": "<uuid>"|null, "tts": bool, ["replace_last": bool]}
        ask; "session_id": null starts a new chat, no "session_id" continues this
        connection's chat (the query string's, or the last one answered); with replace_last (regenerate, or an edited last question) the session's last
        question and its answer are removed and this one answered in their place
    {"type": "stop"}
        stop the answer being streamed: the model stream is closed, what arrived is stored
        (is_complete false, charged for what was generated) and the turn ends with a final
        frame carrying "stopped": true
One answer streams at a time per connection: a message sent while one streams is refused
with an error frame CONFLICT (the stream goes on).
Server -> client:
    {"type": "status", "value": "typing", "session_id"}
    {"type": "status", "value": "waiting", "elapsed_ms", "session_id"}   every few seconds until
                                                                          the first piece
    {"type": "partial", "text": "<piece>", "session_id"}        one per piece, as it arrives
    {"type": "final", "reply", "session_id", "session_title", "message_id", "citations", "model",
     "is_complete", "stopped", ["audio_b64", "content_type"]}
    {"type": "error", "error": "...", "error_code", "session_id", ["retry_after" (s), "message_id"]}

A message counts against the same AI-generation rate limit (scope `ai_generation`, one counter
per user) as REST's send_message: past it the answer is an error frame RATE_LIMITED with
`retry_after`, and the model is not called.

Authentication happens in tutorhub.core.ws_auth (JWT `?token=`, Authorization header, or the
session cookie); anonymous connections are refused at the handshake. Database work runs through
database_sync_to_async, the model streams through its async client, speech runs in a worker
thread: nothing blocks the event loop. Each turn runs as a task of its own, so the consumer
keeps reading frames (a stop) while it streams.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError
from django.http import Http404
from rest_framework.exceptions import APIException

from tutorhub.ai import ProviderError
from tutorhub.chat import selectors, services
from tutorhub.chat.serializers import MAX_MESSAGE_CHARS
from tutorhub.core.consumers import JsonConsumer
from tutorhub.core.db import call_reconnecting
from tutorhub.core.throttling import scope_wait

logger = logging.getLogger(__name__)


@dataclass
class _Turn:
    """One answer being written: where it goes and what the client has seen of it."""

    sid: str | None  # the session, once known
    session: Any = None
    answer: Any = None  # the stored assistant message
    relayed: list[str] = field(default_factory=list)  # pieces sent, for a stop that lands late


# The event loop keeps only weak references to tasks: a turn that outlives its consumer (the
# client left; the answer is still stored) is held here until it ends.
_running_turns: set[asyncio.Task] = set()


class ChatConsumer(JsonConsumer):
    client_gone = False
    turn: asyncio.Task | None = None  # the answer being streamed
    turn_started = False  # the model has been asked: a stop now keeps a partial answer
    stop_requested = False

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=4401)  # before accept: the handshake is refused
            return
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.session_id: str | None = (query.get("session_id") or [None])[0]
        if self.session_id:
            try:
                await database_sync_to_async(call_reconnecting)(
                    selectors.chat_session_get, user=self.user, session_id=self.session_id
                )
            except Http404:
                await self.send_error("Chat session not found.", session_id=self.session_id, code="RESOURCE_NOT_FOUND")
                self.session_id = None

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        try:
            content = json.loads(text_data or "")
        except ValueError:
            await self.send_error("Messages must be JSON objects.", code="MALFORMED_REQUEST")
            return
        if not isinstance(content, dict):
            await self.send_error("Messages must be JSON objects.", code="MALFORMED_REQUEST")
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict, **kwargs) -> None:
        if content.get("type") == "stop":
            self.stop()
            return
        if self.turn is not None:
            await self.send_error("An answer is still being written; stop it first.",
                                  session_id=self.session_id, code="CONFLICT")
            return
        self.turn_started = self.stop_requested = False
        self.turn = asyncio.create_task(self.answer(content))
        _running_turns.add(self.turn)
        self.turn.add_done_callback(self._turn_done)

    def _turn_done(self, task: asyncio.Task) -> None:
        _running_turns.discard(task)
        if self.turn is task:
            self.turn = None

    def stop(self) -> None:
        """Cancel the turn's task once the model has been asked (ChatReplyStopped then keeps
        the partial answer). Before that, the cancel waits for the "started" event: cancelling
        the session lookup would leave a new session without its question."""
        if self.turn is None or self.stop_requested:
            return
        self.stop_requested = True
        if self.turn_started:
            self.turn.cancel()

    async def answer(self, content: dict) -> None:
        try:
            await self._answer(content)
        finally:
            if self.turn is asyncio.current_task():
                self.turn = None  # free for the next message as soon as this one's frames are out

    async def _answer(self, content: dict) -> None:
        # An explicit null starts a new chat (the token-chat dialect's rule; the web page's
        # "+ New chat"); a frame without the key continues the connection's chat.
        session_id = content["session_id"] if "session_id" in content else self.session_id
        turn = _Turn(sid=str(session_id) if session_id else None)
        text = await self._checked_message(content, turn.sid)
        if text is None:
            return
        stream = services.chat_reply_stream(
            user=self.user, session_id=session_id, content=text, replace_last=content.get("replace_last") is True
        )
        try:
            await self._follow(stream, turn)
        except services.ChatReplyStopped as exc:
            turn.answer = exc.assistant_message
        except asyncio.CancelledError:
            if not self.stop_requested:
                raise
            # The stop landed outside the model stream (before it was asked, or while its end
            # was being stored): nothing partial was kept by the tutor; close the turn anyway.
            if not self.client_gone:
                await self.send_json({"type": "final", "reply": "".join(turn.relayed), "session_id": turn.sid,
                                      "session_title": turn.session.title if turn.session is not None else None,
                                      "message_id": None, "citations": [], "is_complete": False, "stopped": True})
            return
        except Exception as exc:  # the client gets an error frame; _send_failure logs what no service refused
            await self._send_failure(exc, session_id=session_id, sid=turn.sid)
            return
        if self.client_gone:
            return
        await self.send_json(await self._final_frame(turn, tts=content.get("tts") is True))

    async def _checked_message(self, content: dict, sid: str | None) -> str | None:
        """The frame's message, or None once the client has been told why it is refused."""
        text = content.get("message")
        if not isinstance(text, str) or not text.strip():
            await self.send_error("Send a non-empty `message`.", session_id=sid, code="VALIDATION_ERROR")
            return None
        if len(text) > MAX_MESSAGE_CHARS:
            await self.send_error(
                f"A message can be at most {MAX_MESSAGE_CHARS} characters.", session_id=sid, code="VALIDATION_ERROR"
            )
            return None
        wait = await sync_to_async(scope_wait, thread_sensitive=False)(self.user, "ai_generation")
        if wait is not None:
            await self.send_error(
                "Too many AI requests; try again later.", session_id=sid, code="RATE_LIMITED", retry_after=math.ceil(wait)
            )
            return None
        return text

    async def _follow(self, stream, turn: _Turn) -> None:
        """Relay the tutor's events until its answer is stored."""
        try:
            async for event in stream:
                await self._on_event(event, turn)
        except asyncio.CancelledError:
            # The stop landed here (sending a frame), not inside the stream: hand it on to
            # where the stream is paused, which stores the partial answer.
            if not self.stop_requested:
                raise
            try:
                await stream.athrow(asyncio.CancelledError())
            except StopAsyncIteration:  # the stream had already ended
                pass
            raise

    async def _on_event(self, event, turn: _Turn) -> None:
        if event.kind == "delta":
            turn.relayed.append(event.text)
            await self.relay({"type": "partial", "text": event.text, "session_id": turn.sid})
        elif event.kind == "started":
            turn.session = event.session
            turn.sid = self.session_id = str(event.session.pk)  # later messages without a session_id continue this chat
            await self.relay({"type": "status", "value": "typing", "session_id": turn.sid})
            self.turn_started = True
            if self.stop_requested:  # lands at the stream's next wait, inside it
                self.turn.cancel()
        elif event.kind == "waiting":
            await self.relay({"type": "status", "value": "waiting", "elapsed_ms": event.elapsed_ms, "session_id": turn.sid})
        elif event.kind == "final":
            turn.answer = event.message
            self.turn_started = False  # the answer is whole and stored: a stop is too late

    async def _send_failure(self, exc: Exception, *, session_id, sid: str | None) -> None:
        """The error frame for a turn that failed: the services' refusals keep their code."""
        if isinstance(exc, Http404 | ValidationError):
            await self.send_error("Chat session not found.", session_id=session_id, code="RESOURCE_NOT_FOUND")
        elif isinstance(exc, services.ChatReplyFailed):
            await self.send_error(
                str(exc.detail), session_id=sid, code=exc.error_code,
                message_id=str(exc.assistant_message.pk) if exc.assistant_message else None,
                retry_after=exc.wait,
            )
        elif isinstance(exc, APIException):  # quota exceeded and other refusals from the services
            detail = exc.detail.get("detail", exc.default_detail) if isinstance(exc.detail, dict) else exc.detail
            await self.send_error(str(detail), session_id=sid, code=getattr(exc, "error_code", "ERROR"))
        else:
            logger.error("chat turn failed", exc_info=exc)
            await self.send_error("Something went wrong.", session_id=sid, code="INTERNAL_ERROR")

    async def _final_frame(self, turn: _Turn, *, tts: bool) -> dict:
        answer = turn.answer
        final = {
            "type": "final",
            "reply": answer.content,
            "session_id": turn.sid,
            "message_id": str(answer.pk),
            "citations": answer.context_used.get("citations", []),
            "model": answer.model_used,
            "token_count": answer.token_count,
            "processing_time_ms": answer.processing_time_ms,
            "is_complete": answer.is_complete,
            "stopped": bool(answer.context_used.get("stopped")),
            # A new chat is named after its first question: the page shows it without a reload.
            "session_title": turn.session.title if turn.session is not None else None,
        }
        if tts:
            final.update(await self.speak(answer))
        return final

    async def speak(self, answer) -> dict:
        try:
            # espeak-ng is a subprocess and the OpenAI client is blocking HTTP: run in a thread.
            audio, content_type = await sync_to_async(services.message_audio, thread_sensitive=False)(message=answer)
        except ProviderError as exc:
            return {"tts_error": str(exc)}
        return {"audio_b64": base64.b64encode(audio).decode("ascii"), "content_type": content_type}

    async def relay(self, payload: dict) -> None:
        """Send a piece; if the client has gone, keep reading the model so the whole answer is
        still stored and shows up in the chat's history when the user comes back."""
        if self.client_gone:
            return
        # Encoded outside the try: a frame that cannot be encoded is a bug to surface, not a gone client.
        text = await self.encode_json(payload)
        try:
            await self.send(text_data=text)
        except Exception as exc:  # the server's "client disconnected" error differs per ASGI server
            logger.info("chat: client gone mid-answer (%s); the answer is still stored", type(exc).__name__)
            self.client_gone = True

    async def disconnect(self, code) -> None:
        self.client_gone = True
        if self.turn is not None:
            # The answer is still stored in full; the connection's life ends with its turn (as
            # when the turn ran in the receive handler). wait() neither raises the turn's
            # error nor cancels it if this is cancelled.
            await asyncio.wait({self.turn})

    async def send_error(self, error: str, *, session_id=None, code: str = "ERROR", **extra) -> None:
        await self.send_json({"type": "error", "error": error, "error_code": code, "session_id": session_id,
                              **{k: v for k, v in extra.items() if v is not None}})
