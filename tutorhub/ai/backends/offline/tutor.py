"""Offline task "chat": an extractive tutor.

It answers from the passages the knowledge base retrieved for the question (passed in
`context["passages"]`, best first): it scores every sentence of those passages by how many of
the question's content words it shares (rarer words count more), quotes the best few in
passage order with each one's passage number ([n], as a real model is asked to cite). When no
sentence shares a content word with the question it says so plainly instead of inventing an
answer: NO_MATCH when there was material to search, NO_MATERIAL when there was none.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from tutorhub.ai.backends.offline import offline_task
from tutorhub.ai.base import Message
from tutorhub.core.text import STOPWORDS as INDEX_STOPWORDS

MAX_SENTENCES = 3
NO_MATCH = (
    "I couldn't find anything about that in your study material, so I won't guess. "
    "Try rephrasing the question, or add a document that covers it."
)
NO_MATERIAL = (
    "I can only answer from your study material, and there is none to search yet. "
    "Add a resource or a course document and ask again."
)

# The search index's stop list (core.text), plus the words a question is phrased with.
STOPWORDS = INDEX_STOPWORDS | frozenset(
    """also ours theirs explain tell describe please define give show mean means meaning example examples
    know want help understand much many""".split()
)
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n{2,}")


def _stem(word: str) -> str:
    """Crude suffix stripping so "derivatives" matches "derivative" and "learning" "learn"."""
    for suffix in ("ations", "ation", "ings", "ing", "ies", "es", "ed", "ly", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def terms(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text or "") if s and len(s.strip()) > 2]


def _question(messages: list[Message], context: dict[str, Any]) -> str:
    if context.get("question"):
        return str(context["question"])
    for message in reversed(messages):
        if message.get("role") == "user":
            return message.get("content", "")
    return ""


def select_sentences(question: str, passages: list[dict[str, Any]], limit: int = MAX_SENTENCES) -> list[tuple[int, str]]:
    """(passage index, sentence) pairs that best answer `question`, in reading order."""
    wanted = set(terms(question))
    if not wanted:
        return []
    candidates: list[tuple[int, int, str, set[str]]] = []
    for p_index, passage in enumerate(passages):
        for s_index, sentence in enumerate(split_sentences(str(passage.get("text", "")))):
            candidates.append((p_index, s_index, sentence, set(terms(sentence))))
    if not candidates:
        return []
    # Inverse sentence frequency: a word in every sentence ("chapter") tells little.
    frequency = Counter(term for *_, words in candidates for term in words & wanted)
    idf = {term: math.log(1 + len(candidates) / count) for term, count in frequency.items()}
    scored = []
    for p_index, s_index, sentence, words in candidates:
        shared = words & wanted
        if not shared:
            continue
        # Earlier (better-ranked) passages win ties; very long sentences are slightly penalised.
        score = sum(idf[t] for t in shared) / (1 + 0.002 * len(sentence)) - 0.01 * p_index
        scored.append((score, p_index, s_index, sentence))
    best = sorted(scored, reverse=True)[:limit]
    return [(p, s) for _, p, _, s in sorted(best, key=lambda item: (item[1], item[2]))]


@offline_task("chat")
def chat(messages: list[Message], context: dict[str, Any], opts: dict[str, Any]) -> str:
    passages = list(context.get("passages") or [])
    if not passages:
        # `has_material`: the user has processed documents in scope, none of which matched.
        return NO_MATCH if context.get("has_material") else NO_MATERIAL
    chosen = select_sentences(_question(messages, context), passages)
    if not chosen:
        return NO_MATCH
    # [n] is the passage's number in the prompt, as a real model is asked to cite; the sources
    # themselves are listed once, by the chat (its citations field), not in the answer text.
    body = " ".join(f"{sentence} [{p_index + 1}]" for p_index, sentence in chosen)
    return f"From your study material: {body}"
