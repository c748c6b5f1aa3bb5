"""OpenAI-compatible backends (OpenAI, Azure, Ollama, vLLM, llama.cpp server, LM Studio ...)
through the `openai` SDK.

Clients are created on first use, never at import or construction (the system check builds
backends). Chat calls retry transient failures here, not in the SDK (its `max_retries` is 0
for them): the SDK would sleep a server's Retry-After (up to minutes) and start each attempt
with a fresh timeout, so three attempts at 60 s kept a user waiting three minutes. Here every
answer has a deadline - a first-token deadline and a total one - and a retry happens only if
its wait fits in what is left; otherwise the call fails at once and says why (ProviderError
with `kind`, and `retry_after` when the server named a wait).
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import json
import threading
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

import openai
from django.conf import settings

from tutorhub.ai.base import (
    Completion,
    EmbeddingBackend,
    LLMBackend,
    Message,
    ProviderError,
    _record,
    estimate_message_tokens,
    estimate_tokens,
)
from tutorhub.core.backoff import exponential_delay, jittered

# Status codes after which the same request may succeed later.
TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
RETRY_BASE_DELAY, RETRY_MAX_DELAY = 0.5, 8.0  # exponential backoff when the server names no wait


def _refused(exc: BaseException) -> bool:
    """Whether a transport error is "nobody listening / unreachable" rather than slowness:
    the SDK's transports wrap the OSError, and some wrap it as a connect timeout."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ConnectionRefusedError) or (
            isinstance(exc, OSError) and exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH)
        ):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def retry_after_seconds(headers) -> float | None:
    """A response's Retry-After (`retry-after-ms`, seconds, or an HTTP date) in seconds."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def provider_error(exc: BaseException) -> ProviderError:
    """Translate an SDK/transport failure into ProviderError without leaking upstream text."""
    if isinstance(exc, ProviderError):
        return exc
    if _refused(exc):
        return ProviderError("The AI service could not be reached.", status_code=503, kind="unavailable")
    if isinstance(exc, (openai.APITimeoutError, TimeoutError)):
        return ProviderError("The AI service did not answer in time.", status_code=504, kind="timeout")
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError("The AI service could not be reached.", status_code=503, kind="unavailable")
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code == 429:
            return ProviderError("The AI service is busy (rate limited).", status_code=429, kind="rate_limited",
                                 retry_after=retry_after_seconds(exc.response.headers))
        if code in TRANSIENT_STATUS:
            return ProviderError(f"The AI service is unavailable (HTTP {code}).", status_code=code, kind="upstream",
                                 retry_after=retry_after_seconds(exc.response.headers))
        if code in (401, 403):
            return ProviderError("The AI service rejected our credentials.", permanent=True, status_code=code)
        return ProviderError(f"The AI service refused the request (HTTP {code}).", permanent=True, status_code=code)
    # Anything else (a cut connection mid-stream, a malformed response) may well pass on retry.
    return ProviderError("The AI service connection failed.", status_code=502, kind="upstream")


class Deadline:
    """One answer's time budget: `first` for the first token (retries included), `total` for
    the whole answer. Times are time.monotonic(), the clock asyncio's loop uses too."""

    def __init__(self, *, first: float, total: float):
        now = time.monotonic()
        self.total_at = now + total
        self.first_at = min(now + first, self.total_at)
        self.first_seconds, self.total_seconds = first, total
        self.started = False  # the first token arrived: from now on only the total counts

    @property
    def at(self) -> float:
        return self.total_at if self.started else self.first_at

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def expired(self) -> ProviderError:
        if self.started:
            return ProviderError(f"The AI service did not finish its answer within {self.total_seconds:g} s.",
                                 status_code=504, kind="timeout")
        return ProviderError(f"The AI service did not start answering within {self.first_seconds:g} s.",
                             status_code=504, kind="timeout")

    def retry_wait(self, error: ProviderError, attempt: int, max_retries: int) -> float:
        """Seconds to wait before attempt `attempt + 1`, or raise `error` when it must not be
        retried: permanent, out of attempts, or its wait does not fit in the deadline (then
        the error carries the server's Retry-After for the client)."""
        if error.permanent or attempt >= max_retries:
            raise error
        if error.retry_after is not None:
            wait = error.retry_after
        else:
            wait = jittered(exponential_delay(attempt + 1, base=RETRY_BASE_DELAY, maximum=RETRY_MAX_DELAY), 0.25)
        if wait >= self.remaining():
            raise error
        return wait


class _Clients:
    """Lazily built sync client plus one async client per event loop.

    An async connection pool belongs to the loop that opened it; a server has one loop, but
    tests and `async_to_sync` bridges run several, so the async client is kept per loop and
    closed when its loop shuts down.
    """

    def __init__(self, *, base_url: str | None, api_key: str, timeout: float, max_retries: int, organization: str | None):
        self.kwargs = {
            "base_url": base_url or None,
            "api_key": api_key or "not-needed",
            "timeout": timeout,
            "max_retries": max_retries,
            "organization": organization,
        }
        self._sync: openai.OpenAI | None = None
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    @property
    def sync(self) -> openai.OpenAI:
        with self._lock:
            if self._sync is None:
                self._sync = openai.OpenAI(**self.kwargs)
            return self._sync

    @property
    def aio(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        entry = self._async.get(loop)
        if entry is None:
            # aiohttp as the transport (the SDK's own DefaultAioHttpClient): relaying a stream
            # costs less CPU and fewer trips around the event loop per token than httpx's
            # anyio stack (benchmarks/chat_stream.py: ~6 ms less server CPU per answer).
            client = openai.AsyncOpenAI(**self.kwargs, http_client=openai.DefaultAioHttpClient())
            closer = _close_at_loop_shutdown(client)
            asyncio.ensure_future(closer.__anext__())  # started: the loop now tracks it
            entry = self._async[loop] = (client, closer)  # a strong reference keeps it alive
        return entry[0]


async def _close_at_loop_shutdown(client: openai.AsyncOpenAI):
    """An async generator parked at its `yield`: asyncio.run(), uvicorn and asgiref close a
    loop's live async generators on the way out, which closes the client (its aiohttp session
    must be closed on its own loop, before that loop is gone)."""
    try:
        yield
    finally:
        await client.close()


class OpenAILLM(LLMBackend):
    """Chat completions. Options: model, base_url, api_key, organization, timeout (s, one
    attempt), max_retries, first_token_timeout and total_timeout (s, one answer, retries
    included; default AI_FIRST_TOKEN_TIMEOUT_SECONDS / AI_TOTAL_TIMEOUT_SECONDS).

    A call's `timeout` option is its total deadline (a long generation asks for more)."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str = "not-needed",
        timeout: float = 60.0,
        max_retries: int = 2,
        organization: str | None = None,
        first_token_timeout: float | None = None,
        total_timeout: float | None = None,
        **options: Any,
    ):
        super().__init__(**options)
        if not model:
            raise TypeError("OpenAILLM needs a model name")
        self.model_name = model
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self.first_token_timeout = first_token_timeout
        self.total_timeout = total_timeout
        self.clients = _Clients(
            base_url=base_url, api_key=api_key, timeout=self.timeout, max_retries=0, organization=organization
        )

    def _deadline(self, opts: dict[str, Any]) -> Deadline:
        total = float(opts.get("timeout") or self.total_timeout or settings.AI_TOTAL_TIMEOUT_SECONDS)
        first = float(self.first_token_timeout or settings.AI_FIRST_TOKEN_TIMEOUT_SECONDS)
        return Deadline(first=first, total=total)

    def _attempt_timeout(self, deadline: Deadline) -> float:
        return max(0.001, min(self.timeout, deadline.remaining()))

    def _params(self, messages: list[Message], opts: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {"model": opts.get("model") or self.model_name, "messages": messages}
        if opts.get("temperature") is not None:
            params["temperature"] = float(opts["temperature"])
        if opts.get("max_tokens"):
            params["max_tokens"] = int(opts["max_tokens"])
        if opts.get("json_mode"):
            params["response_format"] = {"type": "json_object"}
        return params

    def _complete(self, messages: list[Message], **opts: Any) -> Completion:
        params = self._params(messages, opts)
        # A whole (non-streamed) answer has no first token to wait for: the total deadline.
        deadline = self._deadline(opts)
        deadline.started = True
        attempt = 0
        while True:
            if deadline.remaining() <= 0:
                raise deadline.expired()
            try:
                response = self.clients.sync.chat.completions.create(
                    **params, timeout=self._attempt_timeout(deadline)
                )
                break
            except Exception as exc:  # provider_error maps SDK and transport errors alike; retry_wait re-raises the final one
                error = provider_error(exc)
                time.sleep(deadline.retry_wait(error, attempt, self.max_retries))
                attempt += 1
        # A server that answers with something other than a chat completion (an HTML error
        # page, an event stream to a non-streaming call) reaches us as a plain string.
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices or getattr(choices[0], "message", None) is None:
            detail = "returned no answer" if isinstance(choices, list) else "returned a response that is not a chat completion"
            raise ProviderError(f"The AI service {detail}.", status_code=502, kind="upstream")
        choice = choices[0]
        usage = getattr(response, "usage", None)
        return Completion(
            text=choice.message.content or "",
            model=response.model or self.model_name,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason or "stop",
        )

    async def _open_stream(self, params: dict[str, Any], deadline: Deadline):
        """Send the request, retrying within the first-token deadline; returns the entered
        streaming response (the caller closes it)."""
        attempt = 0
        while True:
            try:
                async with asyncio.timeout_at(_loop_time(deadline.at)):
                    manager = self.clients.aio.chat.completions.with_streaming_response.create(
                        **params, timeout=self._attempt_timeout(deadline)
                    )
                    return manager, await manager.__aenter__()
            except TimeoutError as exc:
                raise deadline.expired() from exc
            except Exception as exc:  # provider_error maps SDK and transport errors alike; retry_wait re-raises the final one
                error = provider_error(exc)
                await asyncio.sleep(deadline.retry_wait(error, attempt, self.max_retries))
                attempt += 1

    async def _astream(self, messages: list[Message], **opts: Any) -> AsyncIterator[str | Completion]:
        params = self._params(messages, opts)
        deadline = self._deadline(opts)
        parts: list[str] = []
        finish_reason: str | None = None
        usage: dict | None = None
        model = params["model"]
        # The SDK builds, authenticates and raises for HTTP errors; the event stream itself is
        # read as plain JSON lines. Building the SDK's typed model for every chunk cost about
        # 1 ms of CPU per token - the largest cost of relaying a stream. The messages go in
        # extra_body (sent as given): the SDK otherwise walks every message through its
        # TypedDict transform, ~2 ms of CPU on the event loop per request that changes nothing
        # for plain role/content dicts.
        messages_json = params.pop("messages")
        params.update(messages=[], extra_body={"messages": messages_json}, stream=True,
                      stream_options={"include_usage": True})
        manager, response = await self._open_stream(params, deadline)
        try:
            events = _sse_events(response.iter_lines())
            while True:
                # Each read waits only until the deadline; the yield below stays outside the
                # timeout, so the consumer's own work is never cancelled by it.
                try:
                    async with asyncio.timeout_at(_loop_time(deadline.at)):
                        chunk = await anext(events)
                except StopAsyncIteration:
                    break
                except TimeoutError as exc:
                    raise deadline.expired() from exc
                except Exception as exc:
                    raise provider_error(exc) from exc
                if chunk.get("error"):
                    raise ProviderError("The AI service failed while answering.", status_code=502, kind="upstream")
                model = chunk.get("model") or model
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or ():
                    finish_reason = choice.get("finish_reason") or finish_reason
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        deadline.started = True
                        parts.append(delta)
                        yield delta
        finally:
            await manager.__aexit__(None, None, None)
        if finish_reason is None:
            # The body ended without a finish_reason: the connection was cut mid-answer.
            raise ProviderError("The AI service stopped in the middle of its answer.", status_code=502, kind="upstream")
        text = "".join(parts)
        yield Completion(
            text=text,
            model=model,
            # Servers that ignore include_usage get the same estimate the offline model uses.
            prompt_tokens=int(usage.get("prompt_tokens") or 0) if usage else estimate_message_tokens(messages),
            completion_tokens=int(usage.get("completion_tokens") or 0) if usage else estimate_tokens(text),
            finish_reason=finish_reason,
        )


def _loop_time(monotonic_at: float) -> float:
    """A time.monotonic() instant on the running loop's clock (the same clock by default;
    converted in case a loop uses another)."""
    loop = asyncio.get_running_loop()
    return loop.time() + (monotonic_at - time.monotonic())


async def _sse_events(lines: AsyncIterator[str]) -> AsyncIterator[dict]:
    """Server-sent events -> JSON objects: `data:` lines up to a blank line make one event;
    `[DONE]` ends the stream; comments, `event:` and `id:` lines are skipped."""
    data: list[str] = []
    async for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
            continue
        if line.strip() or not data:
            continue
        payload, data = "\n".join(data), []
        if payload.strip() == "[DONE]":
            return
        try:
            event = json.loads(payload)
        except ValueError as exc:
            raise ProviderError("The AI service sent a malformed stream.", permanent=False, status_code=502) from exc
        if isinstance(event, dict):
            yield event
    if data and "".join(data).strip() != "[DONE]":  # a last event without its blank line
        event = json.loads("\n".join(data))
        if isinstance(event, dict):
            yield event


class OpenAIEmbeddings(EmbeddingBackend):
    """`/embeddings`. Options: model, base_url, api_key, timeout, max_retries, batch_size."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str = "not-needed",
        timeout: float = 60.0,
        max_retries: int = 2,
        organization: str | None = None,
        batch_size: int = 128,
        **options: Any,
    ):
        super().__init__(**options)
        if not model:
            raise TypeError("OpenAIEmbeddings needs a model name")
        self.model_name = model
        self.batch_size = max(1, int(batch_size))
        self.clients = _Clients(
            base_url=base_url, api_key=api_key, timeout=float(timeout), max_retries=int(max_retries), organization=organization
        )

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        tokens = 0
        for start in range(0, len(texts), self.batch_size):
            batch = [t if t.strip() else " " for t in texts[start : start + self.batch_size]]
            try:
                response = self.clients.sync.embeddings.create(model=self.model_name, input=batch)
            except Exception as exc:
                raise provider_error(exc) from exc
            if len(response.data) != len(batch):
                raise ProviderError("The embedding service returned the wrong number of vectors.", status_code=502)
            vectors.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
            tokens += response.usage.prompt_tokens if response.usage else 0
        _record(Completion(text="", model=self.model_name, prompt_tokens=tokens, settles_reservation=False))
        return vectors
