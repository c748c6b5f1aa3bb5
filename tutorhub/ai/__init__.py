"""AI providers, configured like Django's STORAGES/CACHES.

    from tutorhub.ai import llm, embeddings, vector_stores, speech
    llm["default"].complete(messages, task="chat")

Settings: LLM_BACKENDS, EMBEDDING_BACKENDS, VECTOR_STORES, SPEECH_BACKENDS, each
{"alias": {"BACKEND": "dotted.path.Class", "OPTIONS": {...}}}. A backend class is imported
and built on first use, then cached; bad configuration raises ImproperlyConfigured (and is
reported by the `tutorhub.ai` system check). No module outside tutorhub/ai/backends imports
a vendor SDK.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from tutorhub.ai.base import (
    Completion,
    EmbeddingBackend,
    LLMBackend,
    ProviderError,
    SpeechBackend,
    UsageRecorder,
    VectorStore,
    estimate_tokens,
    usage_recorder_register,
    usage_scope,
)

T = TypeVar("T")


class BackendHandler(Generic[T]):
    def __init__(self, setting_name: str, base_class: type):
        self.setting_name = setting_name
        self.base_class = base_class
        self._backends: dict[str, Any] = {}

    @property
    def config(self) -> dict[str, dict]:
        return getattr(settings, self.setting_name, {}) or {}

    def configured(self, alias: str = "default") -> bool:
        return alias in self.config

    def create(self, alias: str) -> T:
        try:
            params = self.config[alias]
        except KeyError:
            raise ImproperlyConfigured(f"{self.setting_name} has no backend named {alias!r}.") from None
        path = params.get("BACKEND")
        if not path:
            raise ImproperlyConfigured(f"{self.setting_name}[{alias!r}] needs a BACKEND.")
        try:
            cls = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(f"{self.setting_name}[{alias!r}]: cannot import {path!r}: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, self.base_class)):
            raise ImproperlyConfigured(f"{path!r} is not a {self.base_class.__name__}.")
        try:
            return cls(**(params.get("OPTIONS") or {}))
        except TypeError as exc:
            raise ImproperlyConfigured(f"{self.setting_name}[{alias!r}]: bad OPTIONS: {exc}") from exc

    def __getitem__(self, alias: str) -> T:
        if alias not in self._backends:
            self._backends[alias] = self.create(alias)
        return self._backends[alias]

    def reset(self) -> None:
        self._backends.clear()


    def import_classes(self) -> None:
        """Import the configured backend classes (and so their SDKs) without building them."""
        for params in self.config.values():
            try:
                import_string(params.get("BACKEND") or "")
            except ImportError:
                pass  # reported by the system check and raised on first use


class EmbeddingHandler(BackendHandler[EmbeddingBackend]):
    def configured(self, alias: str = "default") -> bool:
        """Configured and not known to be broken: once a built backend reports itself unavailable
        (the local model failed to load, which it logs once), callers take their lexical path
        instead of failing - and warning - on every request."""
        if not super().configured(alias):
            return False
        backend = self._backends.get(alias)
        return backend is None or backend.available


llm: BackendHandler[LLMBackend] = BackendHandler("LLM_BACKENDS", LLMBackend)
embeddings = EmbeddingHandler("EMBEDDING_BACKENDS", EmbeddingBackend)
vector_stores: BackendHandler[VectorStore] = BackendHandler("VECTOR_STORES", VectorStore)
speech: BackendHandler[SpeechBackend] = BackendHandler("SPEECH_BACKENDS", SpeechBackend)
HANDLERS = [llm, embeddings, vector_stores, speech]


def _reset_on_change(*, setting: str, **kwargs) -> None:
    for handler in HANDLERS:
        if handler.setting_name == setting:
            handler.reset()


setting_changed.connect(_reset_on_change)

__all__ = [
    "Completion",
    "ProviderError",
    "embeddings",
    "estimate_tokens",
    "llm",
    "speech",
    "UsageRecorder",
    "usage_recorder_register",
    "usage_scope",
    "vector_stores",
]
