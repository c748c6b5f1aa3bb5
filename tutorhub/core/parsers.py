"""JSON request parsing with a nesting limit.

Python's json module recurses once per nesting level: a small body of 50,000 "[" raises
RecursionError (a 500), and bodies just under the interpreter's limit build structures that
serializers and the database then walk recursively. Real API payloads nest a few levels, so
anything deeper than settings.JSON_MAX_DEPTH is refused with 400 before it is parsed."""

from __future__ import annotations

import io
import re

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# A JSON string (skipped: brackets inside strings don't nest) or a bracket.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def json_depth_exceeds(text: str, max_depth: int) -> bool:
    """True if `text` nests arrays/objects deeper than `max_depth` (malformed text may too)."""
    # Fast path: fewer opening brackets than the limit cannot nest deeper than it.
    if text.count("[") + text.count("{") <= max_depth:
        return False
    depth = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif token in "]}":
            depth -= 1
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser, refusing bodies nested deeper than settings.JSON_MAX_DEPTH."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        max_depth = settings.JSON_MAX_DEPTH
        if json_depth_exceeds(text, max_depth):
            raise ParseError(f"JSON parse error - nested deeper than {max_depth} levels.")
        return super().parse(io.BytesIO(raw), media_type, parser_context)
