"""Provider interfaces. Callers use `tutorhub.ai.llm["default"]` etc.; backends subclass these.

Contract for every backend:
- no network or model loading at import or construction time (do it on first call);
- every vendor/transport failure becomes `ProviderError(permanent=...)` - callers may retry
  transient ones; nothing else escapes;
- `LLMBackend` subclasses implement `_complete` / `_astream`; the public methods here add
  timing and usage recording (through the registered `UsageRecorder`) in one place.
"""

from __future__ import annotations

import contextvars
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.core.exceptions import ImproperlyConfigured

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": "..."}


class ProviderError(Exception):
    """A backend failed. `permanent=False` means retrying later may succeed (timeout, 5xx, 429).

    `kind` says what failed, so callers can tell the user something true:
        "timeout"       the service did not answer (or start answering) within the deadline
        "unavailable"   it could not be reached at all (connection refused, DNS, reset)
        "rate_limited"  it refused for load; `retry_after` (seconds) when it said how long
        "upstream"      it answered with a server error or a broken response
        "refused"       it rejected the request itself (permanent: bad request, credentials)
    """

    KINDS = ("timeout", "unavailable", "rate_limited", "upstream", "refused")

    def __init__(self, message: str, *, permanent: bool = False, status_code: int | None = None,
                 kind: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code
        if kind is None:
            kind = "refused" if permanent else "timeout" if status_code == 504 else "upstream"
        self.kind = kind
        self.retry_after = retry_after


@dataclass
class Completion:
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    latency_ms: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    # Whether recording this usage settles the request's quota reservation. Reservations are
    # made for model calls; an embedding of the question on the way (retrieval) must not
    # settle the chat's reservation while its answer is still being generated.
    settles_reservation: bool = True
    # Whether the call cost money. Offline backends do honest work for free: their usage is
    # recorded (usage by feature shows it) but never counts against a plan's AI-token limit.
    billable: bool = True

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


# --- usage attribution -------------------------------------------------------------------
class UsageRecorder(ABC):
    """Where the usage of AI calls goes. The app that keeps the usage ledger and the quotas
    (billing) implements this and registers it with `usage_recorder_register` from its
    AppConfig.ready, so this package never imports a domain app."""

    @abstractmethod
    def record(self, *, user, feature: str, completion: Completion) -> None:
        """Store one call's tokens and latency for `user`, settling its quota reservation
        when `completion.settles_reservation`."""

    @abstractmethod
    def release(self, *, user) -> None:
        """A call failed: give back the AI-token quota its request reserved."""


_recorder: UsageRecorder | None = None


def usage_recorder_register(recorder: UsageRecorder) -> None:
    global _recorder
    _recorder = recorder


def _usage_recorder() -> UsageRecorder:
    if _recorder is None:
        # Attributed usage with nowhere to go would be lost silently, and quotas never charged.
        raise ImproperlyConfigured("No AI usage recorder is registered (tutorhub.billing registers one when installed).")
    return _recorder


@dataclass
class UsageScope:
    user: Any
    feature: str


_usage_scope: contextvars.ContextVar[UsageScope | None] = contextvars.ContextVar("ai_usage_scope", default=None)


@contextmanager
def usage_scope(*, user, feature: str):
    """Attribute every AI call made inside the block to `user` (for usage records and quotas)."""
    token = _usage_scope.set(UsageScope(user=user, feature=feature))
    try:
        yield
    finally:
        _usage_scope.reset(token)


_deferred: contextvars.ContextVar[list[Completion] | None] = contextvars.ContextVar("ai_usage_deferred", default=None)


@contextmanager
def usage_deferred():
    """Collect the usage of AI calls made inside the block instead of writing it, for work run
    in a worker thread (which must not open database connections of its own). The caller, back
    on its own thread, passes the collected list to `usage_flush`."""
    pending: list[Completion] = []
    token = _deferred.set(pending)
    try:
        yield pending
    finally:
        _deferred.reset(token)


def usage_flush(pending: list[Completion]) -> None:
    for completion in pending:
        _record(completion)


def estimate_tokens(text: str) -> int:
    """Cheap token estimate (~4 characters per token for English) for budgets and offline counts."""
    return max(1, (len(text) + 3) // 4) if text else 0


def estimate_message_tokens(messages: list[Message]) -> int:
    """estimate_tokens for a whole prompt."""
    return estimate_tokens("\n".join(str(m.get("content", "")) for m in messages))


def _record(completion: Completion) -> None:
    scope = _usage_scope.get()
    if scope is None or completion.total_tokens <= 0:
        return
    pending = _deferred.get()
    if pending is not None:
        pending.append(completion)
        return
    _usage_recorder().record(user=scope.user, feature=scope.feature, completion=completion)


def _release() -> None:
    """A model call failed: give back the quota its request reserved now, not when the
    reservation expires (minutes later, during which failed retries would lock the user out).
    Deferred work (a stream's worker thread) cannot touch the database; its caller releases."""
    scope = _usage_scope.get()
    if scope is None or _deferred.get() is not None:
        return
    _usage_recorder().release(user=scope.user)


class LLMStream:
    """Async iterator of text deltas; `.completion` is filled once the stream is exhausted."""

    def __init__(self, source: AsyncIterator[str | Completion], started: float, *, billable: bool = True):
        self._source = source
        self._started = started
        self._billable = billable
        self.completion: Completion | None = None
        self.first_token_ms: int | None = None

    def __aiter__(self):
        return self

    async def __anext__(self) -> str:
        while True:
            try:
                item = await self._source.__anext__()  # StopAsyncIteration ends the stream
            except ProviderError:
                if _deferred.get() is None and _usage_scope.get() is not None:
                    await database_sync_to_async(_release)()
                raise
            if isinstance(item, Completion):
                item.latency_ms = int((time.perf_counter() - self._started) * 1000)
                item.billable = self._billable
                self.completion = item
                if _deferred.get() is not None:
                    _record(item)  # collected for the caller's own database trip (usage_deferred)
                elif _usage_scope.get() is not None:
                    # Through Channels' wrapper: the usage row is written on the thread that owns
                    # the database connection, cleaned up like every other DB call from async code.
                    await database_sync_to_async(_record)(item)
                continue
            if self.first_token_ms is None:
                self.first_token_ms = int((time.perf_counter() - self._started) * 1000)
            return item

    async def aclose(self) -> None:
        closer = getattr(self._source, "aclose", None)
        if closer:
            await closer()


class LLMBackend(ABC):
    """Chat-completion model. Options common to calls:

    task: what the call is for ("chat", "summary", "flashcards", ...). Remote models ignore it;
        the offline backend dispatches on it to do honest rule-based work.
    context: structured inputs the prompt was built from (retrieved passages, counts, ...),
        so the offline backend need not parse prose back out of the messages.
    temperature, max_tokens, json_mode (ask for a JSON object), timeout (seconds).
    """

    model_name: str = "unknown"
    # False for backends that cost nothing to call (offline): see Completion.billable.
    billable: bool = True

    def __init__(self, **options: Any):
        self.options = options

    @abstractmethod
    def _complete(self, messages: list[Message], **opts: Any) -> Completion: ...

    @abstractmethod
    def _astream(self, messages: list[Message], **opts: Any) -> AsyncIterator[str | Completion]:
        """Yield text deltas, then one final Completion (full text, model, token counts)."""

    def complete(self, messages: list[Message], **opts: Any) -> Completion:
        started = time.perf_counter()
        try:
            completion = self._complete(messages, **opts)
        except ProviderError:
            _release()
            raise
        completion.latency_ms = int((time.perf_counter() - started) * 1000)
        completion.billable = self.billable
        _record(completion)
        return completion

    async def acomplete(self, messages: list[Message], **opts: Any) -> Completion:
        return await sync_to_async(self.complete, thread_sensitive=False)(messages, **opts)

    def astream(self, messages: list[Message], **opts: Any) -> LLMStream:
        return LLMStream(self._astream(messages, **opts), time.perf_counter(), billable=self.billable)


class EmbeddingBackend(ABC):
    model_name: str = "unknown"
    # False once the backend knows it cannot work (a local model that failed to load): callers
    # then take their lexical path instead of retrying (and warning) on every request.
    available: bool = True

    def __init__(self, **options: Any):
        self.options = options

    def check(self) -> None:
        """Cheap start-up validation without network or model load; raises ProviderError."""
        return  # a remote backend has nothing to check without calling it

    @property
    def fingerprint(self) -> str:
        """Names what the vectors depend on besides the text; stored with a document's vectors so
        that a change (another model, precision, input limit) gets them re-embedded."""
        return f"{type(self).__name__}/{self.model_name}"

    @abstractmethod
    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order. Raises ProviderError."""


@dataclass
class VectorItem:
    id: str
    vector: list[float]
    document_id: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class VectorHit:
    id: str
    score: float  # higher is more similar
    metadata: dict[str, Any] = field(default_factory=dict)


class VectorStore(ABC):
    def __init__(self, **options: Any):
        self.options = options

    @abstractmethod
    def upsert(self, items: Iterable[VectorItem]) -> None: ...

    @abstractmethod
    def delete(self, document_id: str) -> None: ...

    @abstractmethod
    def query(self, vector: list[float], *, filters: dict[str, Any] | None = None, k: int = 10) -> list[VectorHit]: ...

    @abstractmethod
    def similarities(self, vector: list[float], ids: list[str]) -> dict[str, float]:
        """The score `query` would give each stored id of `ids` (ids not stored are absent)."""

    def ping(self) -> None:
        """A cheap round trip for /readyz; raises ProviderError when the store cannot answer.
        A store with nothing to reach (in process, in memory) has nothing to check."""
        return None


class SpeechBackend(ABC):
    def __init__(self, **options: Any):
        self.options = options

    @abstractmethod
    def synthesize(self, text: str, *, voice: str | None = None) -> tuple[bytes, str]:
        """Speak `text`; returns (audio bytes, content type). Raises ProviderError."""

    @abstractmethod
    def transcribe(self, audio: bytes, *, filename: str, content_type: str, language: str | None = None) -> str:
        """Speech to text. Raises ProviderError (permanent when no transcription service is set)."""
