"""The tutor: the one place where chat talks to the LLM.

A turn is: check quota -> retrieve passages from the user's knowledge base -> build the
prompt (system prompt + standing context, a token-bounded window of history, the passages,
the question) -> store the user's message -> ask the model (whole, for REST; streamed, for
the WebSocket) -> store the answer with its citations, model, tokens and time. The stream
asks the model before its question is stored and stores it while the model thinks, so the
write is rarely part of the time to first token; the first piece is passed on only once the
question is stored (or, with the database down, queued: chat.durability).

The model call runs outside any database transaction: a transaction held open for the
seconds a model takes would pin a connection and its locks. So the user's message is
committed first and survives a failed answer, and a failed or cut answer is stored as what
arrived, marked incomplete.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tutorhub.ai import Completion, ProviderError, estimate_tokens, llm, usage_scope
from tutorhub.ai.base import estimate_message_tokens, usage_deferred, usage_flush
from tutorhub.billing.services import ai_tokens_check, quota_release
from tutorhub.chat.durability import message_save_recovered, write_or_queue
from tutorhub.chat.models import ChatContext, ChatSession, Message
from tutorhub.chat.selectors import chat_contexts_active, chat_session_for_turn, turn_history
from tutorhub.chat.services.sessions import (
    DEFAULT_TITLE,
    chat_last_exchange_delete,
    chat_session_create,
    chat_session_touch,
    title_from_text,
)
from tutorhub.core.db import call_reconnecting
from tutorhub.core.exceptions import ServiceError
from tutorhub.knowledge.retrieval import retrieve, searchable_documents

HISTORY_TOKEN_BUDGET = 1500  # tokens of earlier conversation sent with each question
MAX_REPLY_TOKENS = 800
RETRIEVAL_K = 5
MAX_PASSAGE_CHARS = 1500  # per passage in the prompt

BASE_SYSTEM_PROMPT = (
    "You are TutorHub, a patient tutor. Answer the student's question using the numbered study "
    "passages when they are relevant. Cite each passage you use by its number in square brackets, "
    "like [1] or [2][3], right after the sentence it supports; cite only passages you used, and do "
    "not list the sources at the end (the app shows them). If the passages do not cover the "
    "question, say so plainly before answering from general knowledge. Be clear and concise."
)
# The prompt's last system note when retrieval found nothing: the two cases get different
# words, as the offline tutor's NO_MATERIAL and NO_MATCH answers do.
NO_MATERIAL_NOTE = "The student has no study material to search yet."
NO_MATCH_NOTE = "Nothing in the student's study material matches this question."
_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


def cited_markers(text: str, count: int) -> list[int]:
    """The passage numbers (1..count) that `text` cites with [n] or [n, m] markers, in order
    of first citation, each once; numbers outside the prompt's passages are ignored. Parsed
    on the whole answer, so a marker split across streamed pieces still counts."""
    seen: dict[int, None] = {}
    for group in _MARKER.findall(text or ""):
        for part in group.split(","):
            n = int(part)
            if 1 <= n <= count:
                seen.setdefault(n, None)
    return list(seen)


def cited_context(context_used: dict, text: str) -> dict:
    """`context_used` with its citations narrowed to the passages the answer cites.

    Sources are given once, in this structured field (the answer text carries only [n]
    markers, each citation its `marker`). An answer that cites nothing has no citations: the
    passages it was given but did not use stay listed under `retrieved` (what the tutor read,
    for a "passages consulted" view), never presented as its sources."""
    retrieved = context_used.get("retrieved") or []
    citations = [retrieved[n - 1] for n in cited_markers(text, len(retrieved))]
    return {
        **context_used,
        "citations": citations,
        "documents_referenced": list(dict.fromkeys(c["document_id"] for c in citations if c.get("document_id"))),
        "course_concepts": _concepts(citations),
    }


# A stream's own writes (its question, then its answer and usage) run on a database thread of
# their own: on Channels' single database thread they queued the next turn's prompt
# preparation, which the time to first token waits for, behind every other chat's writes.
# The thread keeps its connection between calls (CONN_MAX_AGE) like Channels' thread does.
_stream_writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-writes")


def _stream_write(func):
    return database_sync_to_async(func, thread_sensitive=False, executor=_stream_writes)


# Turn preparation (session, quota, retrieval, prompt) runs on threads of its own as well. On
# Channels' single database thread each turn's first token waited for every turn queued before
# it, and most of a preparation is waiting (for PostgreSQL's round trips, the vector store, the
# query embedding), which a few threads overlap. Each thread keeps its connection between
# turns (or hands it back to the pool) like Channels' thread; a few are enough to cover the
# waits, more would only queue for the GIL and for connections.
TURN_THREADS = 4
_turn_threads = ThreadPoolExecutor(max_workers=TURN_THREADS, thread_name_prefix="chat-turns")


# ProviderError.kind -> (HTTP status, error_code) for the client.
UPSTREAM_ERRORS = {
    "timeout": (504, "UPSTREAM_TIMEOUT"),
    "unavailable": (503, "UPSTREAM_UNAVAILABLE"),
    # The model's provider is rate limiting this deployment, not this user: 503 with its
    # Retry-After, so the client waits as long as the provider asked.
    "rate_limited": (503, "UPSTREAM_RATE_LIMITED"),
    "upstream": (503, "SERVICE_UNAVAILABLE"),
    "refused": (502, "UPSTREAM_ERROR"),
}


class ChatReplyStopped(Exception):
    """The turn's task was cancelled (the student pressed stop): the model stream is closed and
    what arrived is stored as `assistant_message`, marked incomplete."""

    def __init__(self, assistant_message: Message):
        super().__init__("The answer was stopped.")
        self.assistant_message = assistant_message


class ChatReplyFailed(ServiceError):
    """The model failed; the user's message and any partial answer are stored. `wait` (DRF's
    name, which its exception handler sends as the Retry-After header) is the provider's
    Retry-After, when it gave one."""

    def __init__(self, error: ProviderError, *, assistant_message: Message | None = None):
        status, code = UPSTREAM_ERRORS.get(error.kind, UPSTREAM_ERRORS["upstream"])
        super().__init__(f"{error} Your message was saved; please try again.", error_code=code, status_code=status)
        self.provider_error = error
        self.assistant_message = assistant_message
        self.wait = int(math.ceil(error.retry_after)) if error.retry_after is not None else None


@dataclass
class Turn:
    session: ChatSession
    user: Any
    question: str
    message_type: str
    messages: list[dict[str, str]]
    context: dict[str, Any]  # structured inputs, for the offline model
    context_used: dict[str, Any]
    user_message: Message | None = None  # set by tutor_question_store
    reservation: Any = None  # the quota reservation tutor_quota_check made for this turn
    started: float = field(default_factory=time.perf_counter)

    @property
    def llm_options(self) -> dict[str, Any]:
        # session.ai_model is what the user asked for (canonical API: "gpt-4"); the deployment's
        # configured model answers, and the model that really answered is stored per message.
        return {
            "task": "chat",
            "context": self.context,
            "temperature": self.session.temperature,
            "max_tokens": MAX_REPLY_TOKENS,
        }


def _retrieve(*, user, query: str, document_ids: list[str], include_course_context: bool) -> list:
    """Passages for the question: from `document_ids` when given (canonical API context_documents
    and the chat's standing context), else the user's own documents plus - with
    include_course_context - those of the courses they can see, the session's among them.
    (A course filter would narrow to that course alone and hide the student's own notes.)"""
    return retrieve(
        user=user,
        query=query,
        k=RETRIEVAL_K,
        document_ids=document_ids or None,
        include_course_context=include_course_context,
    )


def _has_material(*, user, document_ids: list[str], include_course_context: bool) -> bool:
    return searchable_documents(
        user=user, document_ids=document_ids or None, include_course_context=include_course_context
    ).exists()


def _concepts(citations: list[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for c in citations:
        name = (c.get("section") or c.get("document_title") or "").strip()
        if name:
            seen.setdefault(name, None)
    return list(seen)


def build_prompt(
    *, session: ChatSession, history: list[dict[str, str]], contexts: list[ChatContext], passages: list, question: str,
    has_material: bool = True,
) -> list[dict[str, str]]:
    system = [BASE_SYSTEM_PROMPT]
    if session.system_prompt:
        system.append(session.system_prompt)
    if session.course_id:
        system.append(f"The student is studying the course {session.course.name!r}.")
    order = {"high": 0, "medium": 1, "low": 2}
    for ctx in sorted(contexts, key=lambda c: order.get(c.priority, 1)):
        if ctx.content:
            system.append(f"Focus ({ctx.priority} priority): {ctx.content}")
    messages = [{"role": "system", "content": "\n\n".join(system)}]
    messages += history
    if passages:
        lines = []
        for n, p in enumerate(passages, 1):
            where = ", ".join(str(x) for x in (p.document_title, p.page and f"p. {p.page}", p.section) if x)
            lines.append(f"[{n}] ({where})\n{p.text[:MAX_PASSAGE_CHARS]}")
        messages.append({"role": "system", "content": "Study passages:\n\n" + "\n\n".join(lines)})
    else:
        messages.append({"role": "system", "content": NO_MATCH_NOTE if has_material else NO_MATERIAL_NOTE})
    messages.append({"role": "user", "content": question})
    return messages


def tutor_quota_check(*, user, content: str):
    """Raise QuotaExceeded (429) unless the user's plan allows a turn of this size: the
    question, the history window and the longest answer, before any work or storage.
    Returns the reservation (settled by the answer's usage, released if the answer fails)."""
    return ai_tokens_check(
        user=user, amount=estimate_tokens(content) + HISTORY_TOKEN_BUDGET + MAX_REPLY_TOKENS, backend=llm["default"]
    )


def tutor_turn_prepare(
    *,
    session: ChatSession,
    user,
    content: str,
    message_type: str = Message.MessageType.QUESTION,
    context_documents: list | None = None,
    include_course_context: bool = True,
    fresh: bool = False,
) -> Turn:
    """Retrieve and build the prompt for `content`; reads only. Call tutor_quota_check first
    and tutor_question_store before the answer is stored. `fresh`: the session was just
    created, so it has no history or standing context to read."""
    content = (content or "").strip()
    contexts = [] if fresh else chat_contexts_active(session=session)
    document_ids = [str(d) for d in (context_documents or [])]
    for ctx in contexts:
        document_ids += [d for d in ctx.document_ids if d not in document_ids]
    # Whether the user has any processed document at all (read with the session by
    # chat_session_for_turn, or asked here for a new chat). None: embedding the question and
    # searching would find nothing, and cost a third of the time to first token. Some: it
    # answers a miss's question below when this turn searches all of them.
    material = session.__dict__.get("has_material")
    if fresh:  # a new chat's first turn has read no session: one EXISTS, cheaper than a search
        material = _has_material(user=user, document_ids=[], include_course_context=True)
    if material is False:
        passages = []
    else:
        with usage_scope(user=user, feature="chat"):  # retrieval may embed the query
            passages = _retrieve(
                user=user,
                query=content,
                document_ids=document_ids,
                include_course_context=include_course_context,
            )
    # Only a miss asks whether there was anything to search: "no material yet" and "nothing
    # in your material matches" are different answers.
    has_material = bool(passages) or (
        material
        if material is False or (material is not None and not document_ids and include_course_context)
        else _has_material(user=user, document_ids=document_ids, include_course_context=include_course_context)
    )
    # The question is not stored yet, so the window is everything before it.
    history = [] if fresh else turn_history(session=session, token_budget=HISTORY_TOKEN_BUDGET)
    messages = build_prompt(session=session, history=history, contexts=contexts, passages=passages, question=content,
                            has_material=has_material)
    retrieved = []
    for n, passage in enumerate(passages, 1):
        citation = passage.citation()
        for key in ("document_id", "chunk_id"):
            if citation.get(key) is not None:
                citation[key] = str(citation[key])
        retrieved.append({**citation, "marker": n})  # the [n] the prompt gave this passage
    context_used = {
        "citations": [],  # the passages the answer cites: cited_context, once it is written
        "retrieved": retrieved,
        "documents_referenced": [],
        "course_concepts": [],
        "matched": bool(passages),
        "history_messages": len(history),
    }
    context = {
        "question": content,
        "has_material": has_material,
        "passages": [
            {"text": p.text, "document_title": p.document_title, "page": p.page, "section": p.section} for p in passages
        ],
    }
    return Turn(session=session, user=user, question=content, message_type=message_type, messages=messages,
                context=context, context_used=context_used)


def tutor_question_store(*, turn: Turn) -> Message:
    """Store the user's message (kept whatever happens to the answer) and touch the session.
    The message is built first, so its id is final even when the write has to wait."""
    if turn.user_message is None:
        turn.user_message = Message(
            session=turn.session,
            role=Message.Role.USER,
            content=turn.question,
            message_type=turn.message_type,
            token_count=estimate_tokens(turn.question),
        )
    _question_save(turn=turn)
    return turn.user_message


@transaction.atomic
def _question_save(*, turn: Turn) -> None:
    session = turn.session
    turn.user_message.save(force_insert=True)
    fields = {"last_message_at": turn.user_message.created_at, "updated_at": timezone.now()}
    if session.title == DEFAULT_TITLE:
        # Name a fresh chat after its first question, as chat apps do.
        fields["title"] = title_from_text(turn.question)
    chat_session_touch(session=session, **fields)


def tutor_turn_finish(*, turn: Turn, text: str, model: str = "", tokens: int | None = None,
                      error: ProviderError | None = None, usage: list | None = None,
                      stopped: bool = False) -> Message:
    """Store the answer (or what arrived of it before `error`, or before the student pressed
    stop - `stopped` - marked incomplete) with the usage its model call collected
    (usage_deferred), and settle the turn's quota reservation: one trip to the database. A
    failed or stopped answer is charged for what was generated (nothing if nothing was) and
    gives its reservation back at once.

    If the database cannot be reached the write waits in memory (chat.durability) and the
    message is returned anyway: its id is final."""
    context_used = cited_context(turn.context_used, text)
    if error is not None:
        context_used["error"] = str(error)
    if stopped:
        context_used["stopped"] = True
    message = Message(
        session=turn.session,
        role=Message.Role.ASSISTANT,
        content=text,
        message_type=Message.MessageType.ANSWER,
        token_count=tokens if tokens is not None else estimate_tokens(text),
        processing_time_ms=int((time.perf_counter() - turn.started) * 1000),
        model_used=model,
        context_used=context_used,
        is_complete=error is None and not stopped,
        reply_to=turn.user_message,
    )
    usage = list(usage or ())
    if (error is not None or stopped) and text:
        usage.append(Completion(text=text, model=model, prompt_tokens=estimate_message_tokens(turn.messages),
                                completion_tokens=estimate_tokens(text), billable=llm["default"].billable))
    for completion in usage:
        completion.settles_reservation = False  # settled below by the turn's own reservation
    write_or_queue(_answer_save, what=f"chat answer {message.pk}", turn=turn, message=message, usage=usage,
                   later=_answer_save_recovered)
    return message


@transaction.atomic
def _answer_save(*, turn: Turn, message: Message, usage: list, recovered: bool = False) -> None:
    if usage:
        with usage_scope(user=turn.user, feature="chat"):
            usage_flush(usage)
    quota_release(reservation=turn.reservation)
    if recovered:
        message_save_recovered(message=message)
    else:
        message.save(force_insert=True)
    chat_session_touch(session=turn.session, last_message_at=message.created_at, updated_at=timezone.now())


def _answer_save_recovered(**kwargs) -> None:
    _answer_save(**kwargs, recovered=True)


def chat_message_send(
    *,
    session: ChatSession,
    user,
    content: str,
    message_type: str = Message.MessageType.QUESTION,
    context_documents: list | None = None,
    include_course_context: bool = True,
) -> tuple[Message, Message]:
    """One question and its whole answer (REST). Returns (user_message, assistant_message).

    Raises QuotaExceeded before anything is stored, ChatReplyFailed (502/503/504) when the
    model fails (both messages are stored)."""
    reservation = tutor_quota_check(user=user, content=content)
    turn = tutor_turn_prepare(
        session=session,
        user=user,
        content=content,
        message_type=message_type,
        context_documents=context_documents,
        include_course_context=include_course_context,
    )
    turn.reservation = reservation
    # Nothing is acknowledged yet: if the database is down the request fails here.
    call_reconnecting(tutor_question_store, turn=turn)
    backend = llm["default"]
    try:
        with usage_scope(user=user, feature="chat"), usage_deferred() as usage:
            completion = backend.complete(turn.messages, **turn.llm_options)
    except ProviderError as exc:
        partial = tutor_turn_finish(turn=turn, text="", model=backend.model_name, error=exc)
        raise ChatReplyFailed(exc, assistant_message=partial) from exc
    answer = tutor_turn_finish(
        turn=turn, text=completion.text, model=completion.model, tokens=completion.completion_tokens, usage=usage
    )
    return turn.user_message, answer


def _open_turn(*, user, session_id, content: str, replace_last: bool = False, **options: Any) -> Turn:
    """Session lookup (or creation) and turn preparation in one trip to a turn thread: every
    hop between threads is a queue that the time to first token waits in. `replace_last`
    (regenerate, or an edited last question): the session's last exchange is removed once the
    quota allows the new turn, so it is neither shown nor sent as history."""
    session = chat_session_for_turn(user=user, session_id=session_id) if session_id else None  # 404 first
    reservation = tutor_quota_check(user=user, content=content)  # then refuse before anything is created
    fresh = session is None
    if fresh:
        session = chat_session_create(user=user, title=title_from_text(content))
    elif replace_last:
        chat_last_exchange_delete(session=session)
        session.__dict__.pop("history_rows", None)  # read before the delete: read again
    turn = tutor_turn_prepare(session=session, user=user, content=content, fresh=fresh, **options)
    turn.reservation = reservation
    return turn


@dataclass
class TutorEvent:
    kind: str  # "started" | "waiting" | "delta" | "final"
    text: str = ""
    elapsed_ms: int = 0  # "waiting": time since the question arrived
    session: ChatSession | None = None
    message: Message | None = None


async def chat_reply_stream(
    *,
    user,
    session_id=None,
    content: str,
    message_type: str = Message.MessageType.QUESTION,
    context_documents: list | None = None,
    include_course_context: bool = True,
    replace_last: bool = False,
) -> AsyncIterator[TutorEvent]:
    """Stream an answer in the user's session `session_id` (a new session when None): a
    "started" event (carries the session), a "waiting" event every CHAT_WAITING_STATUS_SECONDS
    until the model's first piece, a "delta" per piece as the model produces it, then "final"
    with the stored assistant message. The question is stored before the first piece is
    passed on.

    Raises Http404 for another user's or an unknown session, QuotaExceeded before any work,
    and ChatReplyFailed after storing the partial answer (is_complete=False); ChatReplyStopped
    when the task running it is cancelled once the model was asked (the partial answer is
    stored the same way)."""
    turn = await database_sync_to_async(call_reconnecting, thread_sensitive=False, executor=_turn_threads)(
        _open_turn,
        user=user,
        session_id=session_id,
        content=content,
        message_type=message_type,
        context_documents=context_documents,
        include_course_context=include_course_context,
        replace_last=replace_last,
    )
    # The question is written on the writes thread while the model is asked and thinks, not
    # before the request goes out. The task runs to the end even if this stream is abandoned,
    # so the question is kept either way (in memory while the database is down).
    stored = asyncio.ensure_future(
        _stream_write(write_or_queue)(tutor_question_store, what="chat question", turn=turn)
    )
    session = turn.session
    yield TutorEvent("started", session=session)
    backend = llm["default"]
    parts: list[str] = []
    stream = backend.astream(turn.messages, **turn.llm_options)
    interval = settings.CHAT_WAITING_STATUS_SECONDS
    try:
        with usage_scope(user=user, feature="chat"), usage_deferred() as usage:
            first = asyncio.ensure_future(anext(stream, None))
            try:
                while not (await asyncio.wait({first}, timeout=interval))[0]:
                    yield TutorEvent("waiting", elapsed_ms=int((time.perf_counter() - turn.started) * 1000))
            finally:
                first.cancel()  # a no-op once done; stops the request if this stream is abandoned
            delta = first.result()
            await stored  # acknowledged pieces only for a question that is kept
            if delta is not None:
                parts.append(delta)
                yield TutorEvent("delta", text=delta)
                async for delta in stream:
                    parts.append(delta)
                    yield TutorEvent("delta", text=delta)
    except ProviderError as exc:
        await stored
        partial = await _stream_write(tutor_turn_finish)(
            turn=turn, text="".join(parts), model=backend.model_name, error=exc
        )
        raise ChatReplyFailed(exc, assistant_message=partial) from exc
    except asyncio.CancelledError:
        # Stop: the consumer cancels the task running this turn. The writes are shielded from
        # that cancellation so the question and the partial answer are both kept; the model
        # stream is closed below (finally), which ends the provider's request.
        await asyncio.shield(stored)
        partial = await asyncio.shield(_stream_write(tutor_turn_finish)(
            turn=turn, text="".join(parts), model=backend.model_name, stopped=True
        ))
        raise ChatReplyStopped(partial) from None
    finally:
        await stream.aclose()
    await stored
    completion = stream.completion
    answer = await _stream_write(tutor_turn_finish)(
        turn=turn,
        text=completion.text if completion else "".join(parts),
        model=completion.model if completion else backend.model_name,
        tokens=completion.completion_tokens if completion else None,
        usage=usage,
    )
    yield TutorEvent("final", session=session, message=answer)
