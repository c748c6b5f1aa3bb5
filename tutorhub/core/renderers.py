"""DRF's JSONRenderer, encoding with orjson where that gives the same bytes.

DRF encodes with the standard library (`json.dumps` with its JSONEncoder): on a 171 KB sessions
page that was ~4% of the request's CPU, and 2-3% of a 20-row list (py-spy, benchmarks/http_api.py).
orjson does the same work in a fraction of the time. The output must not change, so:

- orjson runs only for DRF's default API output: compact, non-ASCII kept, no indent. Indented
  output (`Accept: application/json; indent=4`, the browsable API's panel) and any other
  configuration go to DRF's renderer as before.
- Everything orjson does not encode exactly as DRF's encoder does goes through that encoder's
  `default()`: datetimes, dates and times (DRF writes 'Z' for UTC and refuses an aware time),
  Decimal, lazy translation strings, bytes, sets and the other iterables.
- Whatever orjson refuses (integers past 64 bits, non-string dict keys, an encoder error) is
  rendered by DRF's renderer, so its output or its exception is the one the client gets.
- Floats: orjson writes numbers under 1e-4 without an exponent (0.00001) and exponents without
  Python's zero padding (2.5e-7); Python writes 1e-05 and 2.5e-07. Output with anything that
  looks like either is rendered by DRF's renderer instead,
  which at worst costs the old price for a page whose text contains such a string.
- DRF escapes U+2028 and U+2029 (so the output is also valid JavaScript); so does this.

Two differences remain, on data no endpoint should produce, where DRF's renderer raises (a 500)
and orjson writes a value: a NaN or infinite float (orjson: null; DRF: ValueError) and a member
of a plain Enum, one that is not also a str or an int (orjson: its value; DRF: TypeError).
"""

from __future__ import annotations

import orjson
from rest_framework import renderers

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_BEFORE_A_VALUE = frozenset(b":,[")
_DIGITS = frozenset(b"0123456789")
_DIGITS_AND_POINT = _DIGITS | {ord(".")}
_MINUS = ord("-")


def _starts_a_value(content: bytes, start: int) -> bool:
    """Whether the number ending its leading digits at `start` begins a JSON value (after ':',
    ',' or '[', with an optional minus sign) rather than sitting inside a string (a UUID's
    '...434e-9da5...', a word)."""
    while start > 0 and content[start - 1] in _DIGITS_AND_POINT:
        start -= 1
    if start > 0 and content[start - 1] == _MINUS:
        start -= 1
    return start > 0 and content[start - 1] in _BEFORE_A_VALUE


def _python_float_differs(content: bytes) -> bool:
    """Whether `content` may hold a float orjson spells differently from Python (see the module):
    a number written '0.0000...', or one with a negative exponent. bytes.find, not a regular
    expression: it skips ahead in C (a regex tried at every byte of a 171 KB page costs 2 ms)."""
    start = content.find(b"0.0000")
    while start != -1:
        if _starts_a_value(content, start):
            return True
        start = content.find(b"0.0000", start + 6)
    start = content.find(b"e-", 1)
    while start != -1:
        if content[start - 1] in _DIGITS and content[start + 2 : start + 3].isdigit() and _starts_a_value(content, start):
            return True
        start = content.find(b"e-", start + 2)
    return False


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if (
            data is None
            or self.ensure_ascii
            or not self.compact
            or not self.strict
            or self.get_indent(accepted_media_type, renderer_context or {}) is not None
        ):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            # The encoder DRF's renderer would use (a subclass may name its own).
            content = orjson.dumps(data, default=self.encoder_class().default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        if _python_float_differs(content):
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2" in content:  # U+2028 and U+2029 start with it; one byte is found fastest (memchr)
            content = content.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return content

