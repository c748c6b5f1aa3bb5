"""Scoped hybrid retrieval: lexical (database full text) fused with dense (vector store).

A user's query sees their own documents and the documents of every course visible to them
(owned, taught, or studied in a group - so what a teacher uploads to a course reaches its
groups), never anyone else's. The lexical and dense rankings are fused by standardised score
over their union (or reciprocal rank, see `fuse`), the lexical side helped by the words of the best
dense hits (see `feedback_scores`). With no embedding model, or when the embedding/vector backend
fails, retrieval is lexical only.
"""

from __future__ import annotations

import contextvars
import logging
import math
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet

from tutorhub.ai import ProviderError, embeddings, vector_stores
from tutorhub.ai.base import usage_deferred, usage_flush
from tutorhub.core.text import STOPWORDS, WORD, query_terms
from tutorhub.courses.selectors import course_ids_visible
from tutorhub.knowledge.indexing import lexical_scores, lexical_search
from tutorhub.knowledge.models import Chunk, Document

logger = logging.getLogger(__name__)
RRF_K = 60
# Candidates the dense ranking brings into fusion (at least): fusion can only promote what it sees.
# The lexical ranking brings half as many (see `retrieve`).
FUSION_POOL = 40
# The columns retrieve() reads to build a Passage (see the scope re-check in `retrieve`); the
# heading path is read for `feedback_scores`.
PASSAGE_FIELDS = (
    "id", "document_id", "text", "heading_path", "page", "section", "document__name", "document__course_id"
)
# Dense-guided lexical feedback (see `feedback_scores`): the words of the dense ranking's first
# FEEDBACK_DOCS passages, the FEEDBACK_TERMS best of them; their standardised score joins the
# standardised lexical score at FEEDBACK_WEIGHT (see `fuse`). 0 turns the stage off.
FEEDBACK_DOCS = 4
FEEDBACK_TERMS = 30
FEEDBACK_WEIGHT = 0.5
_BM25_K1, _BM25_B = 1.2, 0.75
# Runs the dense half of a hybrid query beside the lexical half (see `retrieve`).
_dense_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dense-retrieval")


@dataclass
class Passage:
    chunk_id: int
    document_id: str
    document_title: str
    text: str
    score: float
    page: int | None = None
    section: str | None = None
    course_id: str | None = None
    ranks: dict[str, int] = field(default_factory=dict)  # mode -> 1-based rank in that ranking

    def citation(self) -> dict:
        return {
            "document_id": self.document_id,
            "document_title": self.document_title,
            "page": self.page,
            "section": self.section,
            "chunk_id": self.chunk_id,
            "score": round(self.score, 6),
        }


def searchable_documents(
    *,
    user,
    course_ids: list | None = None,
    document_ids: list | None = None,
    include_course_context: bool = True,
) -> QuerySet[Document]:
    """Processed documents `user` may search, narrowed by the caller's filters."""
    visible = Q(owner=user) | Q(course_id__in=course_ids_visible(user=user))
    documents = Document.objects.filter(visible, processing_status=Document.Status.COMPLETED)
    if document_ids:
        documents = documents.filter(id__in=document_ids)
    elif not include_course_context:
        documents = documents.filter(owner=user)
    if course_ids:
        documents = documents.filter(course_id__in=course_ids)
    return documents


def _dense_filters(*, user, documents: QuerySet, document_ids: list | None, include_course_context: bool) -> dict:
    """Narrow the vector query in the store; the database re-checks scope on every hit anyway."""
    if document_ids or not include_course_context:
        return {"document_id": [str(i) for i in documents.values_list("id", flat=True)]}
    courses = [str(c) for c in documents.exclude(course_id=None).values_list("course_id", flat=True).distinct()]
    return {"any": [{"owner_id": user.pk}, {"course_id": courses}]} if courses else {"owner_id": user.pk}


def _matches(filters: dict, metadata: dict) -> bool:
    """The store-neutral filter (see ChromaVectorStore) evaluated on one hit's metadata."""
    for key, value in filters.items():
        if key == "any":
            if not any(_matches(f, metadata) for f in value):
                return False
        elif isinstance(value, list | tuple | set):
            if metadata.get(key) not in value:
                return False
        elif metadata.get(key) != value:
            return False
    return True


def dense_search(query: str, *, k: int, filters: dict) -> tuple[list[tuple[int, float]], list[float]]:
    """Nearest chunks in the caller's scope, and the query's vector. An unfiltered, oversampled
    query first: a metadata filter makes the vector store pre-select ids, which costs far more
    than the graph search when the caller's scope is most of the collection; if too few of its
    hits are in scope, the filtered query follows. Touches no database (usage is deferred by the
    caller), so it can run in a worker thread beside the lexical search."""
    vector = embeddings["default"].embed([query])[0]
    store = vector_stores["default"]
    oversample = k * 3
    hits = store.query(vector, k=oversample)
    inside = [h for h in hits if _matches(filters, h.metadata)]
    if len(inside) < k and len(hits) == oversample:
        inside = store.query(vector, filters=filters, k=k)
    return [(int(h.id), h.score) for h in inside[:k]], vector


def _dense_job(query: str, k: int, filters: dict) -> tuple[tuple[list[tuple[int, float]], list[float]], list]:
    with usage_deferred() as pending:
        return dense_search(query, k=k, filters=filters), pending


def _standardised(scores: dict[int, float]) -> dict[int, float]:
    values = list(scores.values())
    mean = sum(values) / len(values)
    spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5 or 1.0
    return {chunk_id: (value - mean) / spread for chunk_id, value in scores.items()}


def fuse(
    rankings: dict[str, list[tuple[int, float]]],
    filled: dict[str, dict[int, float]] | None = None,
    feedback: dict[int, float] | None = None,
) -> tuple[dict[int, float], dict[int, dict[str, int]]]:
    """Fused score per chunk id, and each chunk's rank in every ranking it appears in.

    RETRIEVAL_FUSION "score" (default): every candidate (the union of the rankings) gets both
    scores - a ranking's own, or its score from `filled` (the dense similarity of a chunk only
    the lexical side returned, the BM25 of one only the dense side returned; a chunk matching
    no term has BM25 0) - each standardised over the candidates (z-score), then
    alpha * dense + (1 - alpha) * lexical (alpha = RETRIEVAL_DENSE_ALPHA). With `feedback` (a
    candidate's score for the dense hits' words, see `feedback_scores`; 0 when absent) the
    lexical side is z(lexical) + FEEDBACK_WEIGHT * z(feedback), standardised again: both
    standardised first, because BM25 (SQLite) and idf x ts_rank (PostgreSQL) have different
    scales, so a weight on the raw sum meant more feedback on PostgreSQL than on SQLite.
    "rrf": reciprocal rank fusion, sum of 1 / (60 + rank). One ranking alone keeps its own
    scores (BM25 / cosine).

    Why: with a chunk missing from one ranking counted as 0 there (the previous fusion, each
    ranking over its best score), a passage the dense side ranked 41st lost to any lexical-only
    match; measured on benchmarks/retrieval.py (5,415 chunks, 175 FAQ queries; settings chosen on
    the even half) the completed scores are what lifts hybrid over dense: recall@5 0.472 ->
    0.500, nDCG@10 0.538 -> 0.564 (dense alone 0.465 / 0.529); held-out half 0.473 -> 0.500 and
    0.532 -> 0.562 (dense 0.477 / 0.522). z-scores rather than "over the best" because BM25's
    scale changes with the query's terms and cosine's does not.
    """
    ranks: dict[int, dict[str, int]] = {}
    for name, ranking in rankings.items():
        for rank, (chunk_id, _score) in enumerate(ranking, start=1):
            ranks.setdefault(chunk_id, {})[name] = rank
    live = {name: ranking for name, ranking in rankings.items() if ranking}
    if len(live) < 2:
        return dict(next(iter(live.values()), [])), ranks
    fused: dict[int, float] = {}
    if settings.RETRIEVAL_FUSION == "rrf":
        for ranking in live.values():
            for rank, (chunk_id, _score) in enumerate(ranking, start=1):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
        return fused, ranks
    alpha = settings.RETRIEVAL_DENSE_ALPHA
    filled = filled or {}
    for name, ranking in live.items():
        scores = dict(ranking)
        known = filled.get(name, {})
        # Not in the ranking and not filled: no term matched (lexical: 0), or the chunk has no
        # vector yet (dense: as close as the ranking's last, a guess that neither lifts nor buries it).
        default = 0.0 if name == "lexical" else ranking[-1][1]
        complete = {chunk_id: scores.get(chunk_id, known.get(chunk_id, default)) for chunk_id in ranks}
        if name == "lexical" and feedback:
            lexical = _standardised(complete)
            words = _standardised({chunk_id: feedback.get(chunk_id, 0.0) for chunk_id in complete})
            complete = {chunk_id: lexical[chunk_id] + FEEDBACK_WEIGHT * words[chunk_id] for chunk_id in complete}
        weight = alpha if name == "dense" else 1.0 - alpha
        for chunk_id, value in _standardised(complete).items():
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight * value
    return fused, ranks


def _missing_scores(
    query: str, vector: list[float], rankings: dict[str, list[tuple[int, float]]]
) -> dict[str, dict[int, float]]:
    """Each side's score for the chunks only the other side returned (see `fuse`)."""
    lexical_ids = {chunk_id for chunk_id, _ in rankings["lexical"]}
    dense_ids = {chunk_id for chunk_id, _ in rankings["dense"]}
    only_lexical = sorted(lexical_ids - dense_ids)
    similarities = vector_stores["default"].similarities(vector, [str(i) for i in only_lexical]) if only_lexical else {}
    return {
        "dense": {int(chunk_id): score for chunk_id, score in similarities.items()},
        "lexical": lexical_scores(query, sorted(dense_ids - lexical_ids)),
    }


def _beside_dense(
    query: str, vector: list[float], rankings: dict[str, list[tuple[int, float]]]
) -> dict[str, dict[int, float]] | None:
    """The lexical side of a hybrid query once the dense ranking is in: the scores to fill in
    (see `_missing_scores`; None for reciprocal rank fusion, which needs none) or, where
    lexical_search declined to score every chunk with a common word, a lexical ranking of dense's
    candidates - their full scores, so nothing is left to fill. On benchmarks/retrieval.py (8 of
    175 FAQ queries decline) hybrid's recall@5 and nDCG@10 stayed within 0.001 on both
    databases, replayed on exact dense rankings."""
    if "lexical" not in rankings:
        scores = lexical_scores(query, [chunk_id for chunk_id, _score in rankings["dense"]])
        rankings["lexical"] = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return {"dense": {}, "lexical": {}}
    return _missing_scores(query, vector, rankings) if settings.RETRIEVAL_FUSION == "score" else None


def _words(text: str) -> list[str]:
    """A passage's words as `feedback_scores` counts them: the index's word pattern, lowercase,
    without stop words, digits and one- or two-letter tokens (mostly code fragments)."""
    return [w for w in WORD.findall(text.lower()) if len(w) > 2 and not w.isdigit() and w not in STOPWORDS]


def feedback_scores(query: str, dense_ids: list[int], candidates: dict[int, str]) -> dict[int, float]:
    """Dense-guided lexical feedback (RM3-style pseudo-relevance feedback): each candidate's BM25
    for the words that best describe the dense ranking's first FEEDBACK_DOCS passages.

    `candidates` maps every fusion candidate in the caller's scope to its indexed text (heading
    path and passage); `dense_ids` is the dense ranking, best first. A word's weight in the
    feedback passages is its frequency there (per passage length, summed) times its idf over
    the candidates; the FEEDBACK_TERMS heaviest words that are not query terms score every
    candidate with BM25 (k1 1.2, b 0.75), idf and lengths again over the candidates.

    Why: the question's own words rarely name the answer (on benchmarks/retrieval.py, FAQ
    questions against 51,456 chunks of reference prose, lexical ranks a relevant chunk first
    for 14% of the queries, dense for 41%), so lexical candidates beyond dense's were mostly
    noise and no fusion weighting lifted hybrid's nDCG@10 more than ~0.02 over dense. The words
    of dense's best passages describe the topic in the material's own vocabulary; scoring the
    candidates on them gives the lexical side evidence about passages that share the topic but
    not the question's words. Over the candidates, not the index: no extra statement (the
    candidates' rows are read for the passages anyway), the same on every database, and a
    word's rarity among the candidates is what separates them.

    Chosen on the even FAQ queries of both databases at 51,456 chunks, replaying the product's
    rankings offline: feedback passages 2-5, words 10-50, weight 0.05-1, idf over the whole
    index or over the candidates, the raw score added to the lexical one or both standardised
    first (see `fuse`). Also tried there, none lifting hybrid - dense in nDCG@10 past ~0.02:
    Rocchio (the query vector moved toward the best hits, the candidates rescored), the
    feedback words as a second index query, adjacent query-term pairs (phrase, NEAR) and
    query-term coverage. On benchmarks/retrieval.py (51,456 chunks, 175 FAQ queries; held-out
    half in brackets), hybrid - dense in recall@5 / nDCG@10 without -> with the feedback, both
    measured in one run: SQLite +0.035 / +0.020 -> +0.036 / +0.038 (+0.040 / +0.022 -> +0.027 /
    +0.048); PostgreSQL +0.024 / +0.013 -> +0.026 / +0.025 (+0.043 / +0.021 -> +0.018 / +0.031).
    It costs 2-4 ms of CPU per hybrid query. Measured figures are in the README."""
    feedback = [chunk_id for chunk_id in dense_ids if chunk_id in candidates][:FEEDBACK_DOCS]
    if not feedback:
        return {}
    # One count per candidate (word -> occurrences, and its length in words), reused throughout.
    counted = {}
    for chunk_id, text in candidates.items():
        words = _words(text)
        counted[chunk_id] = (Counter(words), len(words))
    seen_in = Counter(word for counts, _length in counted.values() for word in counts)
    size = len(counted)
    weight: Counter = Counter()
    for chunk_id in feedback:
        counts, length = counted[chunk_id]
        for word, count in counts.items():
            weight[word] += count / (length or 1)
    asked = set(query_terms(query, limit=len(query)))
    terms = sorted(
        (w for w in weight if w not in asked), key=lambda w: (-weight[w] * math.log(1 + size / seen_in[w]), w)
    )[:FEEDBACK_TERMS]
    if not terms:
        return {}
    idf = {w: math.log(1 + (size - seen_in[w] + 0.5) / (seen_in[w] + 0.5)) for w in terms}
    mean_length = sum(length for _counts, length in counted.values()) / size or 1.0
    scores = {}
    for chunk_id, (counts, length) in counted.items():
        norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * length / mean_length)
        scores[chunk_id] = sum(idf[w] * counts[w] * (_BM25_K1 + 1) / (counts[w] + norm) for w in terms if w in counts)
    return scores


def retrieve(
    *,
    user,
    query: str,
    k: int = 5,
    course_ids: list | None = None,
    document_ids: list | None = None,
    include_course_context: bool = True,
    mode: str = "hybrid",
) -> list[Passage]:
    """The `k` best passages for `query` that `user` may see, best first.

    mode: "hybrid" (default), "lexical" or "dense" (dense falls back to lexical without a model).
    """
    query = (query or "").strip()
    if not query or k <= 0:
        return []
    documents = searchable_documents(
        user=user, course_ids=course_ids, document_ids=document_ids, include_course_context=include_course_context
    )
    pool = max(k * 4, FUSION_POOL)
    rankings: dict[str, list[tuple[int, float]]] = {}
    dense = None
    if mode in ("hybrid", "dense") and embeddings.configured():
        filters = _dense_filters(
            user=user, documents=documents, document_ids=document_ids, include_course_context=include_course_context
        )
        # The query embedding and the vector search run in a worker thread while this thread
        # asks the database for the lexical ranking (both wait outside the GIL), so a hybrid
        # query costs the slower half rather than the sum. The worker gets a copy of this
        # context (usage scope) and defers its usage records to this thread.
        dense = _dense_pool.submit(contextvars.copy_context().run, _dense_job, query, pool, filters)
    if mode in ("hybrid", "lexical") or dense is None:
        # Beside a dense ranking, lexical brings half the pool. Its precision falls off much
        # faster than dense's: on benchmarks/retrieval.py at 51,456 chunks, of the lexical-only
        # candidates (not in dense's 40) 1.6% were relevant at lexical ranks 1-5 and 0.3% at
        # 21-40, yet those with a high BM25 displaced dense's best (dense's top hit relevant
        # for 40.6% of the FAQ queries, the fused one for 37.7%; 40.0% now). Depth chosen on the
        # even FAQ queries (10, 15, 20, 25, 30, 40 replayed on `--dump-fusion` inputs; SQLite at
        # 51,456 and 5,415 chunks, PostgreSQL at 5,415): hybrid - dense in nDCG@10 +0.008 ->
        # +0.015, +0.038 -> +0.040, +0.030 -> +0.029; recall@5 +0.040 -> +0.030, +0.040 ->
        # +0.039, +0.021 -> +0.038 (all queries). Measured figures are in the README.
        depth = pool // 2 if dense is not None else pool
        lexical = lexical_search(query, documents=documents, k=depth, narrow_only=dense is not None)
        if lexical is not None:
            rankings["lexical"] = lexical
    filled = None
    if dense is not None:
        try:
            (rankings["dense"], vector), pending = dense.result()
            usage_flush(pending)
            if mode == "hybrid":
                filled = _beside_dense(query, vector, rankings)
        except ProviderError as exc:
            if embeddings.configured():  # a model that cannot load has warned once itself, and is now skipped
                logger.warning("Dense retrieval unavailable, answering lexically: %s", exc)
            rankings.pop("dense", None)
            if "lexical" not in rankings:
                rankings["lexical"] = lexical_search(query, documents=documents, k=pool)

    candidates = {chunk_id for ranking in rankings.values() for chunk_id, _score in ranking}
    if not candidates:
        return []  # nothing matched: skip building the scope re-check query (most of a miss's CPU)
    # Re-check scope in the database: a vector hit outside it (stale metadata) is dropped, and
    # never feeds the feedback words. Only the columns a Passage (and the feedback) uses: a chunk
    # row joined to its whole document would carry the document's extracted_text (megabytes for
    # a book) into every chat turn. Every candidate (at most 1.5 times the pool) is read before
    # fusion, since the feedback scores them all; a Passage comes from the same rows.
    # The scope check is a correlated EXISTS, so the candidates' primary keys drive the
    # statement: with `document__in=documents` SQLite probed every (document in scope, candidate)
    # pair - 526 x 60 index lookups per query on benchmarks/retrieval.py, p50 5.3 ms and p95
    # 19.7 ms of a hybrid query's 28.6 / 48.7, and growing with the caller's library. Tuples,
    # not model instances: nothing here needs a model.
    in_scope = Exists(documents.filter(pk=OuterRef("document_id")))
    rows = {
        row.id: row
        for row in Chunk.objects.filter(in_scope, id__in=sorted(candidates))
        .order_by()
        .values_list(*PASSAGE_FIELDS, named=True)
    }
    feedback = None
    if FEEDBACK_WEIGHT and rankings.get("lexical") and rankings.get("dense") and settings.RETRIEVAL_FUSION == "score":
        texts = {chunk_id: f"{c.heading_path}\n{c.text}" for chunk_id, c in rows.items()}
        feedback = feedback_scores(query, [chunk_id for chunk_id, _ in rankings["dense"]], texts)
    fused, ranks = fuse(rankings, filled, feedback)
    best = sorted(fused, key=lambda cid: (-fused[cid], cid))
    passages = []
    for chunk_id in best:
        chunk = rows.get(chunk_id)
        if chunk is None:
            continue
        passages.append(
            Passage(
                chunk_id=chunk.id,
                document_id=str(chunk.document_id),
                document_title=chunk.document__name,
                text=chunk.text,
                score=fused[chunk_id],
                page=chunk.page,
                section=chunk.section,
                course_id=str(chunk.document__course_id) if chunk.document__course_id else None,
                ranks=ranks.get(chunk_id, {}),
            )
        )
        if len(passages) == k:
            break
    return passages
