"""Offline document analysis: an extractive summary and keyword extraction, no model needed.

Task "document_analysis": context {"title": str, "text": str, "max_sentences": int} →
JSON text {"summary": str, "topics": [str], "key_concepts": [str]}, the same shape a remote
model is asked for, so the caller validates both the same way.

- summary: the sentences with the highest mean term salience (term frequency damped by the
  sentence-spread of the term, i.e. a TF-IDF over sentences), kept in document order;
- topics: the most salient single terms; key_concepts: the most frequent salient two- and
  three-word phrases (no stop word inside), written snake_case as seed 001 shows.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter

from tutorhub.ai.backends.offline import offline_task
from tutorhub.knowledge.indexing import STOPWORDS

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_TOKEN = re.compile(r"[a-z][a-z0-9'-]*[a-z0-9]|[a-z]")
_EXTRA_STOP = frozenset("also may might must shall one two use used using like get make many much well".split())


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS and t not in _EXTRA_STOP and len(t) > 2]


def analyse(text: str, *, max_sentences: int = 3, topics: int = 8, concepts: int = 8) -> dict:
    sentences = [s.strip() for s in _SENTENCE.split(" ".join(text.split())) if 20 <= len(s.strip()) <= 600]
    tokenised = [_tokens(s) for s in sentences]
    spread = Counter(t for toks in tokenised for t in set(toks))
    frequency = Counter(t for toks in tokenised for t in toks)
    n = max(1, len(sentences))
    salience = {t: frequency[t] * math.log(1 + n / spread[t]) for t in frequency}

    def sentence_score(toks: list[str]) -> float:
        return sum(salience[t] for t in toks) / (len(toks) + 4) if toks else 0.0  # +4 damps short sentences

    ranked = sorted(range(len(sentences)), key=lambda i: -sentence_score(tokenised[i]))[:max_sentences]
    summary = " ".join(sentences[i] for i in sorted(ranked))
    # Topics are terms that recur: a word seen once says little about what a document is about.
    top_terms = [t for t, _ in sorted(salience.items(), key=lambda kv: -kv[1]) if frequency[t] > 1 or n < 4][:topics]
    phrases: Counter[str] = Counter()
    for sentence in sentences:
        words = re.findall(r"[a-z][a-z0-9'-]*", sentence.lower())
        for size in (2, 3):
            for i in range(len(words) - size + 1):
                gram = words[i : i + size]
                if all(w not in STOPWORDS and w not in _EXTRA_STOP and len(w) > 2 for w in gram):
                    phrases["_".join(gram)] += 1
    key_concepts = [p for p, c in phrases.most_common(concepts * 3) if c > 1][:concepts]
    if len(key_concepts) < concepts:  # short texts: fall back to the most salient terms
        key_concepts += [t for t in top_terms if t not in key_concepts][: concepts - len(key_concepts)]
    return {"summary": summary, "topics": top_terms, "key_concepts": key_concepts}


@offline_task("document_analysis")
def document_analysis(messages, context, opts) -> str:
    text = context.get("text") or next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    return json.dumps(analyse(text, max_sentences=int(context.get("max_sentences") or 3)))
