"""OpenAI-compatible backends (OpenAI, Azure, Ollama, vLLM, llama.cpp server, LM Studio ...)
through the `openai` SDK.

Clients are created on first use, never at import or construction (the system check builds
backends). The SDK retries transient failures itself (`max_retries`: connection errors, 408,
409, 429, 5xx, with backoff); whatever still fails becomes one `ProviderError`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import weakref
from collections.abc import AsyncIterator
from typing import Any

import openai

from tutorhub.ai.base import (
    Completion,
    EmbeddingBackend,
    LLMBackend,
    Message,
    ProviderError,
    _record,
    estimate_tokens,
)

# Status codes after which the same request may succeed later.
TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def provider_error(exc: Exception) -> ProviderError:
    """Translate an SDK/transport failure into ProviderError without leaking upstream text."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError("The AI service did not answer in time.", permanent=False, status_code=504)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError("The AI service could not be reached.", permanent=False, status_code=503)
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code in TRANSIENT_STATUS:
            return ProviderError(f"The AI service is unavailable (HTTP {code}).", permanent=False, status_code=code)
        if code in (401, 403):
            return ProviderError("The AI service rejected our credentials.", permanent=True, status_code=code)
        return ProviderError(f"The AI service refused the request (HTTP {code}).", permanent=True, status_code=code)
    # Anything else (a cut connection mid-stream, a malformed response) may well pass on retry.
    return ProviderError("The AI service connection failed.", permanent=False, status_code=502)


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
    """Chat completions. Options: model, base_url, api_key, timeout (s), max_retries, organization."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str = "not-needed",
        timeout: float = 60.0,
        max_retries: int = 2,
        organization: str | None = None,
        **options: Any,
    ):
        super().__init__(**options)
        if not model:
            raise TypeError("OpenAILLM needs a model name")
        self.model_name = model
        self.timeout = float(timeout)
        self.clients = _Clients(
            base_url=base_url, api_key=api_key, timeout=self.timeout, max_retries=int(max_retries), organization=organization
        )

    def _params(self, messages: list[Message], opts: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {"model": opts.get("model") or self.model_name, "messages": messages}
        if opts.get("temperature") is not None:
            params["temperature"] = float(opts["temperature"])
        if opts.get("max_tokens"):
            params["max_tokens"] = int(opts["max_tokens"])
        if opts.get("json_mode"):
            params["response_format"] = {"type": "json_object"}
        if opts.get("timeout"):
            params["timeout"] = float(opts["timeout"])
        return params

    def _complete(self, messages: list[Message], **opts: Any) -> Completion:
        try:
            response = self.clients.sync.chat.completions.create(**self._params(messages, opts))
        except Exception as exc:
            raise provider_error(exc) from exc
        if not response.choices:
            raise ProviderError("The AI service returned no answer.", permanent=False, status_code=502)
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            model=response.model or self.model_name,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason or "stop",
        )

    async def _astream(self, messages: list[Message], **opts: Any) -> AsyncIterator[str | Completion]:
        params = self._params(messages, opts)
        parts: list[str] = []
        finish_reason: str | None = None
        usage: dict | None = None
        model = params["model"]
        try:
            # The SDK builds, authenticates, retries and raises for HTTP errors; the event stream
            # itself is read as plain JSON lines. Building the SDK's typed model for every chunk
            # cost about 1 ms of CPU per token - the largest cost of relaying a stream.
            # The messages go in extra_body (sent as given): the SDK otherwise walks every message
            # through its TypedDict transform, ~2 ms of CPU on the event loop per request that
            # changes nothing for plain role/content dicts.
            messages_json = params.pop("messages")
            async with self.clients.aio.chat.completions.with_streaming_response.create(
                **params, messages=[], extra_body={"messages": messages_json}, stream=True,
                stream_options={"include_usage": True},
            ) as response:
                async for chunk in _sse_events(response.iter_lines()):
                    if chunk.get("error"):
                        raise ProviderError("The AI service failed while answering.", permanent=False, status_code=502)
                    model = chunk.get("model") or model
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or ():
                        finish_reason = choice.get("finish_reason") or finish_reason
                        delta = (choice.get("delta") or {}).get("content")
                        if delta:
                            parts.append(delta)
                            yield delta
        except Exception as exc:
            raise provider_error(exc) from exc
        if finish_reason is None:
            # The body ended without a finish_reason: the connection was cut mid-answer.
            raise ProviderError("The AI service stopped in the middle of its answer.", permanent=False, status_code=502)
        text = "".join(parts)
        yield Completion(
            text=text,
            model=model,
            # Servers that ignore include_usage get the same estimate the offline model uses.
            prompt_tokens=int(usage.get("prompt_tokens") or 0) if usage else _estimate_messages(messages),
            completion_tokens=int(usage.get("completion_tokens") or 0) if usage else estimate_tokens(text),
            finish_reason=finish_reason,
        )


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


def _estimate_messages(messages: list[Message]) -> int:
    return estimate_tokens("\n".join(str(m.get("content", "")) for m in messages))


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
