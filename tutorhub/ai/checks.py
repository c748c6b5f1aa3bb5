from __future__ import annotations

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
