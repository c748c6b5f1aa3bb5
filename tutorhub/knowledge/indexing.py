"""Lexical ranking with the database's own full-text index (created in migration 0002).

SQLite: FTS5 `knowledge_chunk_fts` (heading path + text) ranked by BM25. PostgreSQL: the
generated `search_vector` column (GIN index) ranked by a BM25-like sum of idf-weighted per-term
ts_rank (see `_pg_score`). Any other database: a LIKE scan counting matched terms, so retrieval
still answers (slowly) rather than failing.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

from django.db import connection
from django.db.models import QuerySet

from tutorhub.core.text import query_terms

# The heading path ("Document › Section › Subsection") counts for a chunk only when it holds
# every term of the question, and then as much as the passage (SQLite: bm25 column weights;
# PostgreSQL: ts_rank weights {D, C, B, A}, the path as B and the text as D). A path is shared
# by every chunk of its section: when the question names that part of the document (a section
# title, "calvin cycle"), the path is the best evidence there is; when it shares a word or two
# with the question ("FAQ", "python", the page's title) it says nothing about the passage, yet
# it lifted hundreds of chunks over the passages that answer. One fixed weight traded one for
# the other: the path as heavy as the text found section titles and buried FAQ answers on
# PostgreSQL, a quarter of it did the reverse on SQLite. Measured on benchmarks/retrieval.py at
# 51,456 chunks replaying the product's fusion on exact dense rankings (FAQ queries; chosen on
# the even half, held-out half in brackets), hybrid - dense in recall@5 / nDCG@10 with a fixed
# weight -> this rule: PostgreSQL +0.031 / +0.016 -> +0.058 / +0.021 (+0.018 / +0.022 ->
# +0.027 / +0.049), SQLite +0.043 / +0.023 -> +0.049 / +0.021 (+0.022 / +0.039 -> +0.020 /
# +0.047); on the 60 section-title queries +0.031 / +0.040 -> +0.040 / +0.053 and -0.021 /
# +0.003 -> +0.009 / +0.057, and lexical alone finds more of both on both databases. Measured
# figures are in the README.
HEADING_WEIGHT = 1.0
PG_RANK_WEIGHTS = f"{{1.0, 0.2, {HEADING_WEIGHT}, 1.0}}"  # the path counts
PG_TEXT_WEIGHTS = "{1.0, 0.2, 0, 1.0}"  # the passage alone
_SQLITE_WEIGHTS = f"{HEADING_WEIGHT}, 1.0"  # bm25(): heading_path, text
_SQLITE_TEXT_WEIGHTS = "0.0, 1.0"
# A term in more chunks than this is "common": it still scores every candidate, but no longer
# makes a chunk a candidate on its own (see `_candidate_groups`). A fixed count, not a share of the
# table, so the rows ranked per query stay bounded however large the table grows.
COMMON_TERM_ROWS = 1000
# Fewer results than this (or than asked) with common terms held back: search again with any term.
WIDEN_BELOW = 5
# PostgreSQL counts a term's chunks up to this many (GIN bitmap + heap visits, so the count is
# bounded); a term in more chunks gets the idf of this many - the smallest idf there is, which is
# what such a term deserves in a ranking.
PG_DF_COUNT_LIMIT = 5000
_DF_TTL_SECONDS = 600.0
_DF_CACHE_SIZE = 8192
_df_cache: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()
_df_lock = threading.Lock()


def _document_frequencies(terms: list[str], vendor: str) -> dict[str, int]:
    """Chunks containing each of `terms`, and all chunks for "" (cached per process for a few
    minutes: a stale figure only changes which terms count as common and, on PostgreSQL, their
    idf - never what a caller may see). The terms not cached are counted together in one
    statement: a chat turn waits for every round trip before its model is asked."""
    now = time.monotonic()
    alias = connection.alias + ":" + vendor
    counts, missing = {}, []
    with _df_lock:
        for term in dict.fromkeys(terms):
            cached = _df_cache.get((alias, term))
            if cached and now - cached[0] < _DF_TTL_SECONDS:
                _df_cache.move_to_end((alias, term))
                counts[term] = cached[1]
            else:
                missing.append(term)
    if not missing:
        return counts
    selects, params = [], []
    for term in missing:
        if vendor == "sqlite":
            selects.append("(SELECT count(*) FROM knowledge_chunk_fts WHERE knowledge_chunk_fts MATCH %s)")
            params.append(f'"{term}"')
        elif not term:  # the number of chunks, for idf
            selects.append("(SELECT count(*) FROM knowledge_chunk)")
        else:
            # Bounded (see PG_DF_COUNT_LIMIT): the plan only needs "above COMMON_TERM_ROWS or not",
            # idf only separates terms up to the limit.
            selects.append("(SELECT count(*) FROM (SELECT 1 FROM knowledge_chunk WHERE search_vector @@ "
                           f"to_tsquery('english', %s) LIMIT {max(PG_DF_COUNT_LIMIT, COMMON_TERM_ROWS + 1)}) t)")
            params.append(term)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(selects), params)
        row = cursor.fetchone()
    with _df_lock:
        for term, count in zip(missing, row, strict=True):
            counts[term] = int(count)
            _df_cache[(alias, term)] = (now, int(count))
        while len(_df_cache) > _DF_CACHE_SIZE:
            _df_cache.popitem(last=False)
    return counts


def _common_terms(terms: list[str], vendor: str) -> list[str]:
    """The terms in more than COMMON_TERM_ROWS chunks (counts cached, see `_document_frequencies`)."""
    # PostgreSQL also counts the table ("") here, for `_pg_score`'s idf: one statement for both.
    counts = _document_frequencies(terms + [""] if vendor == "postgresql" else terms, vendor)
    return [term for term in terms if counts[term] > COMMON_TERM_ROWS]


def _candidate_groups(terms: list[str], vendor: str) -> list[list[str]] | None:
    """Which chunks are ranked: those containing every term of any one group (an OR of ANDs),
    or None for "any term". Each rare term is a group; the common terms (in more than
    COMMON_TERM_ROWS chunks) form one group together - or none when rare terms exist and there
    is a single common term - so "python", "use" or "file" no longer pull a third of a 50k-chunk
    table into the ranking. All terms still score every candidate; a chunk sharing only such a
    word with the question would rank below the candidates anyway."""
    common = _common_terms(terms, vendor)
    rare = [term for term in terms if term not in common]
    if not common or (not rare and len(common) == 1):
        return None
    return [[t] for t in rare] + ([common] if len(common) > 1 or not rare else [])


def lexical_search(
    query: str, *, documents: QuerySet, k: int, narrow_only: bool = False
) -> list[tuple[int, float]] | None:
    """(chunk id, score) best first, over the chunks of `documents` (a Document queryset).

    narrow_only: for a caller with candidates of its own (hybrid retrieval), None where the
    ranking would have to score every chunk that holds a common word - the question has one
    word and it is common, or its narrowed candidates are too few and the search would widen.
    Those rankings walked a third of a 51,456-chunk table (SQLite 30-55 ms, the slowest 5% of
    hybrid queries), to bring candidates the dense side had anyway (see `retrieve`)."""
    terms = query_terms(query)
    if not terms or k <= 0:
        return []
    vendor = connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        return _like_search(terms, documents=documents, k=k)
    groups = _candidate_groups(terms, vendor)
    if narrow_only and groups is None and _common_terms(terms, vendor):
        return None  # no plan and a common term: the question's one word (see _candidate_groups)
    ranked = _ranked(vendor, terms, groups, documents=documents, k=k)
    if groups is not None and len(ranked) < min(k, WIDEN_BELOW):
        if narrow_only:
            return None
        # Too few with the narrowed candidates: widen to any term. Rare: it happens when the
        # question's distinctive words are not in the caller's material at all.
        ranked = _ranked(vendor, terms, None, documents=documents, k=k)
    return ranked


def lexical_scores(query: str, chunk_ids: list[int]) -> dict[int, float]:
    """The score `lexical_search` gives each of `chunk_ids` for `query` (chunks matching no term
    are absent: their score is 0). Hybrid fusion asks this for the dense ranking's chunks that
    the lexical ranking did not return, so every candidate is compared on both scores. No scope
    check here: the ids come from a scoped ranking and retrieve() re-checks scope anyway."""
    terms = query_terms(query)
    if not terms or not chunk_ids:
        return {}
    vendor = connection.vendor
    ids = ", ".join(["%s"] * len(chunk_ids))
    if vendor == "sqlite":
        # `+rowid`: one MATCH filtered by the list, not one MATCH per listed id (see _ranked).
        score, score_params = _sqlite_score(terms)
        sql = (f"SELECT knowledge_chunk_fts.rowid, {score} FROM knowledge_chunk_fts "
               f"WHERE knowledge_chunk_fts MATCH %s AND +knowledge_chunk_fts.rowid IN ({ids})")
        params = [*score_params, _fts_any(terms), *chunk_ids]
    elif vendor == "postgresql":
        # Primary-key lookups; the score is 0 for a row matching no term, as in the ranking.
        score, score_params = _pg_score(terms)
        sql = f"SELECT c.id, {score} FROM knowledge_chunk c WHERE c.id IN ({ids})"
        params = [*score_params, *chunk_ids]
    else:
        score, likes = _like_score(terms)
        sql = f"SELECT c.id, ({score}) FROM knowledge_chunk c WHERE c.id IN ({ids})"
        params = [*likes, *chunk_ids]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {int(row[0]): float(row[1]) for row in cursor.fetchall() if row[1]}


def _ranked(vendor: str, terms: list[str], groups: list[list[str]] | None, *, documents: QuerySet, k: int):
    scope_sql, scope_params = documents.order_by().values("id").query.sql_with_params()
    if vendor == "sqlite":
        # FTS5 walks its term index (doclists) for the rows with any term - cheap, no row is
        # read - keeps those among the candidates (a second MATCH over the candidate groups,
        # materialised once), reads each survivor's chunk row for the scope check, and only then
        # scores (`_sqlite_score`). `+rowid` stops SQLite from driving the FTS5 scan from the
        # candidate list (one full MATCH per listed row).
        narrow, narrow_params = "", []
        if groups is not None:
            narrow = ("AND +knowledge_chunk_fts.rowid IN "
                      "(SELECT rowid FROM knowledge_chunk_fts WHERE knowledge_chunk_fts MATCH %s) ")
            narrow_params = [" OR ".join("(" + " AND ".join(f'"{t}"' for t in g) + ")" for g in groups)]
        score, score_params = _sqlite_score(terms)
        sql = (
            f"SELECT knowledge_chunk_fts.rowid, {score} AS score FROM knowledge_chunk_fts "
            "JOIN knowledge_chunk c ON c.id = knowledge_chunk_fts.rowid "
            f"WHERE knowledge_chunk_fts MATCH %s {narrow}AND c.document_id IN ({scope_sql}) "
            "ORDER BY score DESC, knowledge_chunk_fts.rowid LIMIT %s"
        )
        params = [*score_params, _fts_any(terms), *narrow_params, *scope_params, k]
    else:
        # PostgreSQL plan: the candidate tsquery (the groups: rare terms, or the common ones
        # together) is answered by the GIN index on search_vector as a bitmap; when the caller's
        # scope is small the planner can AND it with the document_id index bitmap, so heap
        # visits follow the smaller of the two. Rows failing `document_id IN (scope)` are
        # dropped before ranking; `_pg_score` scores the survivors against every term, and LIMIT
        # makes the sort a top-k heap. The OR of every term made broad questions match a fifth
        # of the table, and the planner then chose a sequential scan (139 ms).
        candidates = " | ".join(" & ".join(g) for g in groups) if groups is not None else " | ".join(terms)
        score, score_params = _pg_score(terms)
        sql = (
            f"SELECT c.id, {score} AS score FROM knowledge_chunk c, to_tsquery('english', %s) cand_q "
            f"WHERE c.search_vector @@ cand_q AND c.document_id IN ({scope_sql}) ORDER BY score DESC, c.id LIMIT %s"
        )
        params = [*score_params, candidates, *scope_params, k]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # Score 0: the row matched a term only in a heading path that does not hold them all.
        return [(int(row[0]), float(row[1])) for row in cursor.fetchall() if row[1] > 0]


def _pg_score(terms: list[str]) -> tuple[str, list]:
    """PostgreSQL's BM25-like score: SQL summing, over the query's terms, idf(term) x ts_rank
    of the chunk against that term alone, and its parameters.

    Why: ts_rank against the whole query is the mean of its per-term ranks, so a word in half
    the corpus ("function") weighed as much as the one word that names the topic; BM25 (SQLite's
    ranking) weighs each term by its rarity. A single-term ts_rank is already BM25's other two
    parts: it saturates with the term's occurrences (each further one adds less) and,
    normalisation 1, divides by 1 + log(length). idf is Lucene's ln(1 + (N - df + 0.5) / (df +
    0.5)) over the whole table (as FTS5's bm25), with df from `_document_frequencies`: one cached,
    bounded count per term (the candidate plan counts them anyway), so nothing per row is added
    but one ts_rank per term on the rows already ranked - the scope-narrowed candidates, never
    the table. On benchmarks/retrieval.py: lexical recall@5 at 51,456 chunks 0.158 -> 0.162;
    the same SQL old and new interleaved, p50 8.0 -> 7.3 ms, p95 66.7 -> 53.4 ms (load 6)."""
    counts = _document_frequencies(terms + [""], "postgresql")  # counted with the plan's, in one statement
    total = counts[""]
    idfs = []
    for term in terms:
        # At least 1: a count cached before the term's first chunk was written still scores it
        # (as rare); a word PostgreSQL drops as a stop word has a ts_rank of 0 anyway.
        df = max(counts[term], 1)
        idfs.append(math.log(1.0 + (max(total - df, 0) + 0.5) / (df + 0.5)))

    def total_rank(weights: str) -> tuple[str, list]:
        part = f"%s * ts_rank('{weights}', c.search_vector, to_tsquery('english', %s), 1)"
        return " + ".join([part] * len(terms)), [p for pair in zip(idfs, terms, strict=True) for p in pair]

    # The heading path counts only where it holds every term (see HEADING_WEIGHT): `:B` matches
    # a lexeme in the path only. One test per row; only the chosen sum is computed.
    with_path, with_params = total_rank(PG_RANK_WEIGHTS)
    text_only, text_params = total_rank(PG_TEXT_WEIGHTS)
    covers = " & ".join(f"{term}:B" for term in terms)
    sql = f"(CASE WHEN c.search_vector @@ to_tsquery('english', %s) THEN {with_path} ELSE {text_only} END)"
    return sql, [covers, *with_params, *text_params]


def _sqlite_score(terms: list[str]) -> tuple[str, list]:
    """SQLite's score (BM25 over every term, higher is better) for a query whose FROM is
    knowledge_chunk_fts, and its parameters: the heading path column counts only for the rows
    whose path holds every term (see HEADING_WEIGHT; one more MATCH, on the path column,
    materialised once per statement)."""
    covers = "knowledge_chunk_fts.rowid IN (SELECT rowid FROM knowledge_chunk_fts WHERE knowledge_chunk_fts MATCH %s)"
    sql = (f"(CASE WHEN {covers} THEN -bm25(knowledge_chunk_fts, {_SQLITE_WEIGHTS}) "
           f"ELSE -bm25(knowledge_chunk_fts, {_SQLITE_TEXT_WEIGHTS}) END)")
    return sql, ["heading_path : (" + " AND ".join(f'"{t}"' for t in terms) + ")"]


def _like_search(terms: list[str], *, documents: QuerySet, k: int) -> list[tuple[int, float]]:
    """Any other database: a scan counting the matched terms in the text and heading path."""
    scope_sql, scope_params = documents.order_by().values("id").query.sql_with_params()
    score, likes = _like_score(terms)
    sql = (
        f"SELECT c.id, ({score}) AS score FROM knowledge_chunk c "
        f"WHERE c.document_id IN ({scope_sql}) AND ({score}) > 0 ORDER BY score DESC, c.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*likes, *scope_params, *likes, k])
        return [(int(row[0]), float(row[1])) for row in cursor.fetchall()]


def _like_score(terms: list[str]) -> tuple[str, list[str]]:
    """SQL counting the terms a chunk's heading path or text contains, and its parameters."""
    score = " + ".join("CASE WHEN LOWER(c.heading_path || ' ' || c.text) LIKE %s THEN 1 ELSE 0 END" for _ in terms)
    return score, [f"%{t}%" for t in terms]


def _fts_any(terms: list[str]) -> str:
    """An FTS5 query matching any of `terms` (each quoted: a term is never FTS5 syntax)."""
    return " OR ".join(f'"{t}"' for t in terms)
