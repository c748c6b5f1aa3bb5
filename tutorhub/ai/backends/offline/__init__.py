"""The offline LLM: honest work with no model and no network.

Each task ("chat", "summary", "flashcards", ...) has a handler registered with
`@offline_task("name")` in a module of this package; a handler gets the messages and the
structured `context` the caller built the prompt from, and returns the text a model would
have returned (JSON text for structured tasks, so callers validate both backends the same way).
Responses are labelled with `model_name` ("tutorhub-offline-<task>") so users can tell.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async

from tutorhub.ai.base import Completion, LLMBackend, Message, ProviderError, estimate_tokens

TaskHandler = Callable[[list[Message], dict[str, Any], dict[str, Any]], str]
_TASKS: dict[str, TaskHandler] = {}
_loaded = False


def offline_task(name: str):
    def register(fn: TaskHandler) -> TaskHandler:
        _TASKS[name] = fn
        return fn

    return register


def _load_handlers() -> None:
    global _loaded
    if not _loaded:
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
        _loaded = True


def _chunks(text: str, size: int = 3) -> list[str]:
    """Split an answer into word groups, keeping whitespace, so it streams like a model."""
    words = text.split(" ")
    return [" ".join(words[i : i + size]) + (" " if i + size < len(words) else "") for i in range(0, len(words), size)]


class OfflineLLM(LLMBackend):
    model_name = "tutorhub-offline"
    billable = False  # rule-based work on this machine: recorded as usage, never charged

    def __init__(self, *, stream_delay: float = 0.0, **options: Any):
        super().__init__(**options)
        self.stream_delay = stream_delay

    def _run(self, messages: list[Message], opts: dict[str, Any]) -> Completion:
        _load_handlers()
        task = opts.get("task") or "chat"
        handler = _TASKS.get(task)
        if handler is None:
            raise ProviderError(f"The offline model cannot do the task {task!r}.", permanent=True)
        text = handler(messages, opts.get("context") or {}, opts)
        prompt = "\n".join(m.get("content", "") for m in messages)
        return Completion(
            text=text,
            model=f"{self.model_name}-{task}",
            prompt_tokens=estimate_tokens(prompt),
            completion_tokens=estimate_tokens(text),
        )

    def _complete(self, messages: list[Message], **opts: Any) -> Completion:
        return self._run(messages, opts)

    async def _astream(self, messages: list[Message], **opts: Any) -> AsyncIterator[str | Completion]:
        # Handlers are plain CPU work (scoring sentences, building questions); run them off the
        # event loop so a long document never stalls other streams.
        completion = await sync_to_async(self._run, thread_sensitive=False)(messages, opts)
        for piece in _chunks(completion.text):
            yield piece
            await asyncio.sleep(self.stream_delay)
        yield completion
