"""Template filters of the study pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def interval(days: float) -> str:
    """A scheduler interval as a student reads it on a rating button: "<1 min", "10 min",
    "3 h", "4 d", "2 mo", "1.5 y"."""
    minutes = days * 1440
    if minutes < 1:
        return "<1 min"
    if minutes < 60:
        return f"{round(minutes)} min"
    if days < 1:
        return f"{round(minutes / 60)} h"
    if days < 30:
        return f"{round(days)} d"
    if days < 365:
        return f"{round(days / 30)} mo"
    return f"{round(days / 365, 1):g} y"


@register.filter
def percent(value: float | None) -> str:
    return "–" if value is None else f"{round(value)}%"
