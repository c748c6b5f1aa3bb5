"""Scoped hybrid retrieval: lexical (database full text) fused with dense (vector store).

A user's query sees their own documents and the documents of every course visible to them
(owned, taught, or studied in a group - so what a teacher uploads to a course reaches its
groups), never anyone else's. The lexical and dense rankings are fused by normalised score
(or reciprocal rank, see `fuse`). With no embedding model, or when the embedding/vector
backend fails, retrieval is lexical only.
"""

from __future__ import annotations

import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q, QuerySet

from tutorhub.ai import ProviderError, embeddings, vector_stores
from tutorhub.ai.base import usage_deferred, usage_flush
from tutorhub.courses.selectors import course_ids_visible
from tutorhub.knowledge.indexing import lexical_search
from tutorhub.knowledge.models import Chunk, Document

logger = logging.getLogger(__name__)
RRF_K = 60
# Candidates taken from each ranking before fusion (at least): fusion can only promote what it sees.
FUSION_POOL = 40
# The columns retrieve() reads to build a Passage (see the scope re-check in `retrieve`).
PASSAGE_FIELDS = ("id", "document_id", "text", "page", "section", "document__name", "document__course_id")
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


def dense_search(query: str, *, k: int, filters: dict) -> list[tuple[int, float]]:
    """Nearest chunks in the caller's scope. An unfiltered, oversampled query first: a metadata
    filter makes the vector store pre-select ids, which costs far more than the graph search when
    the caller's scope is most of the collection; if too few of its hits are in scope, the
    filtered query follows. Touches no database (usage is deferred by the caller), so it can run
    in a worker thread beside the lexical search."""
    vector = embeddings["default"].embed([query])[0]
    store = vector_stores["default"]
    oversample = k * 3
    hits = store.query(vector, k=oversample)
    inside = [h for h in hits if _matches(filters, h.metadata)]
    if len(inside) < k and len(hits) == oversample:
        inside = store.query(vector, filters=filters, k=k)
    return [(int(h.id), h.score) for h in inside[:k]]


def _dense_job(query: str, k: int, filters: dict) -> tuple[list[tuple[int, float]], list]:
    with usage_deferred() as pending:
        return dense_search(query, k=k, filters=filters), pending


def fuse(rankings: dict[str, list[tuple[int, float]]]) -> tuple[dict[int, float], dict[int, dict[str, int]]]:
    """Fused score per chunk id, and each chunk's rank in every ranking it appears in.

    RETRIEVAL_FUSION "score" (default): alpha * dense + (1 - alpha) * lexical, each divided by
    its best score (alpha = RETRIEVAL_DENSE_ALPHA); "rrf": reciprocal rank fusion, sum of
    1 / (60 + rank). One ranking alone keeps its own scores (BM25 / cosine).

    Dividing by the best score rather than min-max keeps how far apart the candidates are: with
    min-max the last of 20 lexical candidates counted 0 and the first 1 however close their BM25
    was. Tuned on half of benchmarks/retrieval.py's FAQ queries (alpha 0.9, 40-60 candidates a
    side), held-out half: nDCG@10 0.522 -> 0.542 (see README).
    """
    ranks: dict[int, dict[str, int]] = {}
    for name, ranking in rankings.items():
        for rank, (chunk_id, _score) in enumerate(ranking, start=1):
            ranks.setdefault(chunk_id, {})[name] = rank
    if len(rankings) == 1:
        return dict(next(iter(rankings.values()))), ranks
    fused: dict[int, float] = {}
    if settings.RETRIEVAL_FUSION == "rrf":
        for ranking in rankings.values():
            for rank, (chunk_id, _score) in enumerate(ranking, start=1):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
        return fused, ranks
    alpha = settings.RETRIEVAL_DENSE_ALPHA
    for name, ranking in rankings.items():
        if not ranking:
            continue
        weight = alpha if name == "dense" else 1.0 - alpha
        high = ranking[0][1]
        for chunk_id, score in ranking:
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight * (score / high if high > 0 else 0.0)
    return fused, ranks


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
        rankings["lexical"] = lexical_search(query, documents=documents, k=pool)
    if dense is not None:
        try:
            rankings["dense"], pending = dense.result()
            usage_flush(pending)
        except ProviderError as exc:
            if embeddings.configured():  # a model that cannot load has warned once itself, and is now skipped
                logger.warning("Dense retrieval unavailable, answering lexically: %s", exc)
            if "lexical" not in rankings:
                rankings["lexical"] = lexical_search(query, documents=documents, k=pool)

    fused, ranks = fuse(rankings)
    best = sorted(fused, key=lambda cid: (-fused[cid], cid))
    if not best:
        return []  # nothing matched: skip building the scope re-check query (most of a miss's CPU)
    # Re-check scope in the database: a vector hit outside it (stale metadata) is dropped.
    # Only the columns a Passage uses: a chunk row joined to its whole document would carry the
    # document's extracted_text (megabytes for a book) into every chat turn.
    rows = {
        c.id: c
        for c in Chunk.objects.filter(id__in=best[:pool], document__in=documents)
        .select_related("document")
        .only(*PASSAGE_FIELDS)
    }
    passages = []
    for chunk_id in best:
        chunk = rows.get(chunk_id)
        if chunk is None:
            continue
        passages.append(
            Passage(
                chunk_id=chunk.id,
                document_id=str(chunk.document_id),
                document_title=chunk.document.name,
                text=chunk.text,
                score=fused[chunk_id],
                page=chunk.page,
                section=chunk.section,
                course_id=str(chunk.document.course_id) if chunk.document.course_id else None,
                ranks=ranks.get(chunk_id, {}),
            )
        )
        if len(passages) == k:
            break
    return passages
