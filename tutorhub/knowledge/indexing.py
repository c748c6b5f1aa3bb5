"""Lexical ranking with the database's own full-text index (created in migration 0002).

SQLite: FTS5 `knowledge_chunk_fts` (heading path + text) ranked by BM25. PostgreSQL: the
generated `search_vector` column (GIN index) ranked by ts_rank. Any other database: a LIKE scan counting matched terms,
so retrieval still answers (slowly) rather than failing.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from django.db import connection
from django.db.models import QuerySet

from tutorhub.core.text import query_terms

# How much a term in the heading path counts against one in the passage. SQLite: bm25 column
# weights (BM25's idf already discounts words every path shares). PostgreSQL: ts_rank weights
# {D, C, B, A}, the path as B and the text as D; ts_rank has no idf, so a heavier path let
# words every page's path holds ("FAQ") outrank the passage: on benchmarks/retrieval.py
# recall@5 0.093 with the path at twice the text, 0.158 at equal weight (0.119 before paths).
HEADING_WEIGHT = 2.0
PG_RANK_WEIGHTS = "{1.0, 0.2, 1.0, 1.0}"
# A term in more chunks than this is "common": it still scores every candidate, but no longer
# makes a chunk a candidate on its own (see `_match_plan`). A fixed count, not a share of the
# table, so the rows ranked per query stay bounded however large the table grows.
COMMON_TERM_ROWS = 1000
# Fewer results than this (or than asked) with common terms held back: search again with any term.
WIDEN_BELOW = 5
_DF_TTL_SECONDS = 600.0
_DF_CACHE_SIZE = 8192
_df_cache: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()
_df_lock = threading.Lock()


def _document_frequency(term: str, vendor: str) -> int:
    """Chunks containing `term` (index-only count, cached per process for a few minutes: a
    stale figure only changes which terms count as common, never what a caller may see)."""
    key = (connection.alias + ":" + vendor, term)
    now = time.monotonic()
    with _df_lock:
        cached = _df_cache.get(key)
        if cached and now - cached[0] < _DF_TTL_SECONDS:
            _df_cache.move_to_end(key)
            return cached[1]
    if vendor == "sqlite":
        sql, param = "SELECT count(*) FROM knowledge_chunk_fts WHERE knowledge_chunk_fts MATCH %s", f'"{term}"'
    else:
        # The count stops at COMMON_TERM_ROWS + 1: all the plan needs to know is "above or not".
        sql = ("SELECT count(*) FROM (SELECT 1 FROM knowledge_chunk WHERE search_vector @@ to_tsquery('english', %s) "
               f"LIMIT {COMMON_TERM_ROWS + 1}) t")
        param = term
    with connection.cursor() as cursor:
        cursor.execute(sql, [param])
        count = int(cursor.fetchone()[0])
    with _df_lock:
        _df_cache[key] = (now, count)
        while len(_df_cache) > _DF_CACHE_SIZE:
            _df_cache.popitem(last=False)
    return count


def _candidate_groups(terms: list[str], vendor: str) -> list[list[str]] | None:
    """Which chunks are ranked: those containing every term of any one group (an OR of ANDs),
    or None for "any term". Each rare term is a group; the common terms (in more than
    COMMON_TERM_ROWS chunks) form one group together - or none when rare terms exist and there
    is a single common term - so "python", "use" or "file" no longer pull a third of a 50k-chunk
    table into the ranking. All terms still score every candidate; a chunk sharing only such a
    word with the question would rank below the candidates anyway."""
    rare, common = [], []
    for term in terms:
        (common if _document_frequency(term, vendor) > COMMON_TERM_ROWS else rare).append(term)
    if not common or (not rare and len(common) == 1):
        return None
    return [[t] for t in rare] + ([common] if len(common) > 1 or not rare else [])


def lexical_search(query: str, *, documents: QuerySet, k: int) -> list[tuple[int, float]]:
    """(chunk id, score) best first, over the chunks of `documents` (a Document queryset)."""
    terms = query_terms(query)
    if not terms or k <= 0:
        return []
    vendor = connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        return _like_search(terms, documents=documents, k=k)
    groups = _candidate_groups(terms, vendor)
    ranked = _ranked(vendor, terms, groups, documents=documents, k=k)
    if groups is not None and len(ranked) < min(k, WIDEN_BELOW):
        # Too few with the narrowed candidates: widen to any term. Rare: it happens when the
        # question's distinctive words are not in the caller's material at all.
        ranked = _ranked(vendor, terms, None, documents=documents, k=k)
    return ranked


def _ranked(vendor: str, terms: list[str], groups: list[list[str]] | None, *, documents: QuerySet, k: int):
    scope_sql, scope_params = documents.order_by().values("id").query.sql_with_params()
    if vendor == "sqlite":
        # FTS5 walks its term index (doclists) for the rows with any term - cheap, no row is
        # read - keeps those among the candidates (a second MATCH over the candidate groups,
        # materialised once), reads each survivor's chunk row for the scope check, and only then
        # scores: bm25 over every term, the heading path column weighted above the passage (a
        # heading names what the passage is about). `+rowid` stops SQLite from driving the
        # FTS5 scan from the candidate list (one full MATCH per listed row).
        weights = f"{HEADING_WEIGHT}, 1.0"
        narrow, narrow_params = "", []
        if groups is not None:
            narrow = ("AND +knowledge_chunk_fts.rowid IN "
                      "(SELECT rowid FROM knowledge_chunk_fts WHERE knowledge_chunk_fts MATCH %s) ")
            narrow_params = [" OR ".join("(" + " AND ".join(f'"{t}"' for t in g) + ")" for g in groups)]
        sql = (
            f"SELECT knowledge_chunk_fts.rowid, -bm25(knowledge_chunk_fts, {weights}) FROM knowledge_chunk_fts "
            "JOIN knowledge_chunk c ON c.id = knowledge_chunk_fts.rowid "
            f"WHERE knowledge_chunk_fts MATCH %s {narrow}AND c.document_id IN ({scope_sql}) "
            f"ORDER BY bm25(knowledge_chunk_fts, {weights}) LIMIT %s"
        )
        params = [" OR ".join(f'"{t}"' for t in terms), *narrow_params, *scope_params, k]
    else:
        # PostgreSQL plan: the candidate tsquery (the groups: rare terms, or the common ones
        # together) is answered by the GIN index on search_vector as a bitmap; when the caller's
        # scope is small the planner can AND it with the document_id index bitmap, so heap
        # visits follow the smaller of the two. Rows failing `document_id IN (scope)` are
        # dropped before ranking; ts_rank (length-normalised, see PG_RANK_WEIGHTS) scores the
        # survivors against every term, and LIMIT makes the sort a top-k heap. The OR of every
        # term made broad questions match a fifth of the table, and the planner then chose a
        # sequential scan (139 ms).
        candidates = " | ".join(" & ".join(g) for g in groups) if groups is not None else " | ".join(terms)
        sql = (
            f"SELECT c.id, ts_rank('{PG_RANK_WEIGHTS}', c.search_vector, full_q, 1) AS score "
            "FROM knowledge_chunk c, to_tsquery('english', %s) cand_q, to_tsquery('english', %s) full_q "
            f"WHERE c.search_vector @@ cand_q AND c.document_id IN ({scope_sql}) ORDER BY score DESC, c.id LIMIT %s"
        )
        params = [candidates, " | ".join(terms), *scope_params, k]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(row[0]), float(row[1])) for row in cursor.fetchall()]


def _like_search(terms: list[str], *, documents: QuerySet, k: int) -> list[tuple[int, float]]:
    """Any other database: a scan counting the matched terms in the text and heading path."""
    scope_sql, scope_params = documents.order_by().values("id").query.sql_with_params()
    score = " + ".join("CASE WHEN LOWER(c.heading_path || ' ' || c.text) LIKE %s THEN 1 ELSE 0 END" for _ in terms)
    sql = (
        f"SELECT c.id, ({score}) AS score FROM knowledge_chunk c "
        f"WHERE c.document_id IN ({scope_sql}) AND ({score}) > 0 ORDER BY score DESC, c.id LIMIT %s"
    )
    likes = [f"%{t}%" for t in terms]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*likes, *scope_params, *likes, k])
        return [(int(row[0]), float(row[1])) for row in cursor.fetchall()]
