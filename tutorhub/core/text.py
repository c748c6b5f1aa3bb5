"""Word-level text helpers that more than one app needs.

The full-text index (knowledge.indexing), the offline AI backends' key phrases
(ai.backends.offline) and quiz generation's topic words (assessments) must agree on what a
word is and which words carry no meaning; keeping the definition here lets each of them use it
without importing the others.
"""

from __future__ import annotations

import re

# Small English stop list: these words match nearly every chunk and only add noise to OR queries.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor not now
    of off on once only or other our out over own same she should so some such than that the their them
    then there these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours""".split()
)
# A word: letters and digits, with inner underscores kept (snake_case names are one word).
WORD = re.compile(r"[^\W_]+(?:_[^\W_]+)*", re.UNICODE)


def query_terms(query: str, *, limit: int = 32) -> list[str]:
    """Distinct lowercase search terms (letters/digits only, so they are safe in any query syntax)."""
    seen: list[str] = []
    for word in WORD.findall(query.lower()):
        if len(word) > 1 and word not in STOPWORDS and word not in seen:
            seen.append(word)
    return seen[:limit]
