"""Offline document analysis: an extractive summary and key phrases, no model needed.

Task "document_analysis": context {"title": str, "text": str, "max_sentences": int} →
JSON text {"summary": str, "topics": [str], "key_concepts": [str]}, the same shape a remote
model is asked for, so the caller validates both the same way.

- summary: the sentences with the highest mean term salience (term frequency damped by the
  sentence-spread of the term, i.e. a TF-IDF over sentences), kept in document order;
- topics and key_concepts: noun phrases ranked by YAKE's statistics (see `keyphrases`), written
  as words ("Calvin cycle", not "calvin_cycle"). Topics are the multi-word phrases that run
  through the most sentences; key concepts put the terms the text defines ("X is a ...") first.
"""

from __future__ import annotations

import json
import math
from collections import Counter

from tutorhub.ai.backends.offline import offline_task
from tutorhub.ai.backends.offline.generation import find_definitions
from tutorhub.ai.backends.offline.keyphrases import STOPWORDS, TOKEN, keyphrases, phrase_key, split_sentences


def _tokens(text: str) -> list[str]:
    return [t for t in (w.lower() for w in TOKEN.findall(text)) if t not in STOPWORDS and len(t) > 2 and t[0].isalpha()]


def analyse(text: str, *, max_sentences: int = 3, topics: int = 8, concepts: int = 8) -> dict:
    sentences = [s for s in split_sentences(text) if 20 <= len(s) <= 600]
    tokenised = [_tokens(s) for s in sentences]
    spread = Counter(t for toks in tokenised for t in set(toks))
    frequency = Counter(t for toks in tokenised for t in toks)
    n = max(1, len(sentences))
    salience = {t: frequency[t] * math.log(1 + n / spread[t]) for t in frequency}

    def sentence_score(toks: list[str]) -> float:
        return sum(salience[t] for t in toks) / (len(toks) + 4) if toks else 0.0  # +4 damps short sentences

    ranked = sorted(range(len(sentences)), key=lambda i: -sentence_score(tokenised[i]))[:max_sentences]
    summary = " ".join(sentences[i] for i in sorted(ranked))
    ranked_all = keyphrases(text, limit=60)  # defined single terms ("chlorophyll") rank after phrases
    phrases = ranked_all[: max(topics, concepts) * 2]
    # Multi-word phrases first (a single word only when the text has too few), then the phrases
    # that run through the most sentences, then rank.
    by_spread = sorted(phrases, key=lambda c: (" " not in c.key, -c.sentences, c.score))
    defined = {phrase_key(d.term) for d in find_definitions([{"text": text}])}
    by_definition = [c for c in ranked_all if c.key in defined] + [c for c in phrases if c.key not in defined]
    return {
        "summary": summary,
        "topics": [c.text for c in by_spread[:topics]],
        "key_concepts": [c.text for c in by_definition[:concepts]],
    }


@offline_task("document_analysis")
def document_analysis(messages, context, opts) -> str:
    text = context.get("text") or next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    return json.dumps(analyse(text, max_sentences=int(context.get("max_sentences") or 3)))
