"""How close a spoken answer's transcript is to the expected text.

Metric (documented for teachers): normalised word-level similarity
    similarity = 1 - word_edit_distance(expected, transcript) / max(len(expected), len(transcript))
after lower-casing, Unicode NFKC normalisation and removing punctuation. 1.0 is a word-perfect
answer, 0.0 shares nothing in place. The word diff (missing / extra / substituted words) feeds the
feedback.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field

_WORD = re.compile(r"[\w']+", re.UNICODE)


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text or "").lower()
    return [w.strip("'") for w in _WORD.findall(text) if w.strip("'")]


def word_edit_distance(a: list[str], b: list[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, wa in enumerate(a, start=1):
        current = [i]
        for j, wb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (wa != wb)))
        previous = current
    return previous[-1]


@dataclass
class SimilarityResult:
    score: float
    expected_words: int
    spoken_words: int
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    substituted: list[tuple[str, str]] = field(default_factory=list)


def speech_similarity(expected: str, transcript: str) -> SimilarityResult:
    a, b = words(expected), words(transcript)
    longest = max(len(a), len(b))
    score = 1.0 if longest == 0 else 1.0 - word_edit_distance(a, b) / longest
    result = SimilarityResult(score=round(score, 4), expected_words=len(a), spoken_words=len(b))
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "delete":
            result.missing += a[i1:i2]
        elif op == "insert":
            result.extra += b[j1:j2]
        elif op == "replace":
            result.substituted += list(zip(a[i1:i2], b[j1:j2], strict=False))  # replace spans may differ in length
            result.missing += a[i1 + (j2 - j1) : i2]
            result.extra += b[j1 + (i2 - i1) : j2]
    return result
