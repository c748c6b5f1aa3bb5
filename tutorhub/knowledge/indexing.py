"""Lexical ranking with the database's own full-text index (created in migration 0002).

SQLite: FTS5 `knowledge_chunk_fts` ranked by BM25. PostgreSQL: the generated `search_vector`
column (GIN index) ranked by ts_rank. Any other database: a LIKE scan counting matched terms,
so retrieval still answers (slowly) rather than failing.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import QuerySet

# Small English stop list: these words match nearly every chunk and only add noise to OR queries.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor not now
    of off on once only or other our out over own same she should so some such than that the their them
    then there these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours""".split()
)
_WORD = re.compile(r"[^\W_]+(?:_[^\W_]+)*", re.UNICODE)


def query_terms(query: str, *, limit: int = 32) -> list[str]:
    """Distinct lowercase search terms (letters/digits only, so they are safe in any query syntax)."""
    seen: list[str] = []
    for word in _WORD.findall(query.lower()):
        if len(word) > 1 and word not in STOPWORDS and word not in seen:
            seen.append(word)
    return seen[:limit]


def lexical_search(query: str, *, documents: QuerySet, k: int) -> list[tuple[int, float]]:
    """(chunk id, score) best first, over the chunks of `documents` (a Document queryset)."""
    terms = query_terms(query)
    if not terms or k <= 0:
        return []
    scope_sql, scope_params = documents.values("id").query.sql_with_params()
    vendor = connection.vendor
    if vendor == "sqlite":
        match = " OR ".join(f'"{t}"' for t in terms)
        sql = (
            "SELECT knowledge_chunk_fts.rowid, -bm25(knowledge_chunk_fts) FROM knowledge_chunk_fts "
            "JOIN knowledge_chunk c ON c.id = knowledge_chunk_fts.rowid "
            f"WHERE knowledge_chunk_fts MATCH %s AND c.document_id IN ({scope_sql}) "
            "ORDER BY bm25(knowledge_chunk_fts) LIMIT %s"
        )
        params = [match, *scope_params, k]
    elif vendor == "postgresql":
        sql = (
            "SELECT c.id, ts_rank(c.search_vector, q, 1) AS score "
            "FROM knowledge_chunk c, to_tsquery('english', %s) q "
            f"WHERE c.search_vector @@ q AND c.document_id IN ({scope_sql}) ORDER BY score DESC, c.id LIMIT %s"
        )
        params = [" | ".join(terms), *scope_params, k]
    else:
        score = " + ".join("CASE WHEN LOWER(c.text) LIKE %s THEN 1 ELSE 0 END" for _ in terms)
        sql = (
            f"SELECT c.id, ({score}) AS score FROM knowledge_chunk c "
            f"WHERE c.document_id IN ({scope_sql}) AND ({score}) > 0 ORDER BY score DESC, c.id LIMIT %s"
        )
        likes = [f"%{t}%" for t in terms]
        params = [*likes, *scope_params, *likes, k]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(row[0]), float(row[1])) for row in cursor.fetchall()]
