"""Dense-guided lexical feedback in hybrid retrieval (issue 13 item 3): the words of dense's best
passages score every fusion candidate, so a passage that shares the topic but none of the
question's words is lifted; the stage costs no statement and is skipped without a dense ranking."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory
from tutorhub.ai import ProviderError
from tutorhub.knowledge import retrieval
from tutorhub.knowledge.models import Chunk
from tutorhub.knowledge.retrieval import feedback_scores, fuse, retrieve
from tutorhub.knowledge.services import resource_add

pytestmark = pytest.mark.django_db


def test_feedback_words_come_from_the_first_dense_hits_in_scope():
    candidates = {
        1: "Rayleigh scattering of sunlight by nitrogen molecules favours short wavelengths.",
        2: "Nitrogen molecules scatter short wavelengths of sunlight more strongly.",
        3: "Volcanic ash makes red sunsets.",
        4: "Sky colour in landscape paintings.",
    }
    # 99 is a dense hit outside the caller's scope (not a candidate): it is skipped, and only
    # the first in-scope hit (FEEDBACK_DOCS = 1 here) gives the words.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(retrieval, "FEEDBACK_DOCS", 1)
        scores = feedback_scores("sky colour", [99, 1, 2], candidates)
    # Chunk 2 shares no query word but the feedback passage's words; chunk 3 shares neither.
    assert scores[2] > 0 and scores[3] == 0
    # The query's own words are not feedback words: chunk 4 matches only them.
    assert scores[4] == 0
    # No dense hit among the candidates: no feedback at all.
    assert feedback_scores("sky colour", [98, 99], candidates) == {}


def test_feedback_weighs_words_by_their_rarity_among_the_candidates():
    filler = {n: f"Every passage mentions light number{n}." for n in range(10, 20)}
    candidates = {1: "Light scattering by nitrogen.", 2: "Light and more light.", 3: "Nitrogen gas.", **filler}
    scores = feedback_scores("why", [1], candidates)
    # "light" is in every candidate, "nitrogen" in two: sharing the rare word counts for more.
    assert scores[3] > scores[2] > 0


def test_the_feedback_counts_the_same_whatever_the_lexical_scale(settings):
    """BM25 on SQLite and idf x ts_rank on PostgreSQL differ by orders of magnitude: the feedback
    is standardised before it joins the lexical side, so its weight means the same on both."""
    settings.RETRIEVAL_FUSION = "score"
    dense = [(1, 0.9), (2, 0.5), (3, 0.5), (4, 0.4)]
    bm25 = {"dense": dense, "lexical": [(1, 8.0), (4, 6.0)]}
    ts_rank = {"dense": dense, "lexical": [(1, 0.08), (4, 0.06)]}
    feedback = {1: 5.0, 3: 4.0}
    with_bm25, _ = fuse(bm25, None, feedback)
    assert with_bm25 == pytest.approx(fuse(ts_rank, None, feedback)[0])
    # Chunks 2 and 3 differ only in the feedback.
    assert with_bm25[3] > with_bm25[2]
    without, _ = fuse(bm25)
    assert without[3] == pytest.approx(without[2])


def _patch_dense(monkeypatch, ranking_of):
    """A dense ranking the test chooses (the fake embeddings' own order is arbitrary)."""

    def dense_search(query, *, k, filters):
        return ranking_of()[:k], [0.0] * 64

    monkeypatch.setattr(retrieval, "dense_search", dense_search)


def test_a_passage_only_the_feedback_finds_is_ranked_above_an_equal_one(fake_openai, user, monkeypatch):
    """Two dense candidates with the same similarity and no query word: without feedback the
    older (lower id) one comes first; the one sharing the best dense hit's words wins with it.
    On PostgreSQL and SQLite alike: the feedback is standardised before it joins the lexical
    score, whatever that score's scale."""
    top = resource_add(user=user, title="Optics", content="Sky colour comes from Rayleigh scattering of sunlight "
                       "by nitrogen molecules, which favours short wavelengths.")
    unrelated = resource_add(user=user, title="Geology", content="Volcanic ash settles over farmland for years.")
    follow_up = resource_add(user=user, title="Optics II", content="Short wavelengths scatter off nitrogen "
                             "molecules in sunlight far more strongly than long ones.")
    ids = {doc.pk: Chunk.objects.get(document=doc).pk for doc in (top, unrelated, follow_up)}
    _patch_dense(monkeypatch, lambda: [(ids[top.pk], 0.9), (ids[unrelated.pk], 0.4), (ids[follow_up.pk], 0.4)])
    monkeypatch.setattr(retrieval, "FEEDBACK_DOCS", 1)  # three candidates: the words of the best one only

    def order():
        return [p.chunk_id for p in retrieve(user=user, query="sky colour", k=3)]

    with_feedback = order()
    monkeypatch.setattr(retrieval, "FEEDBACK_WEIGHT", 0.0)
    without = order()
    assert without == [ids[top.pk], ids[unrelated.pk], ids[follow_up.pk]]
    assert with_feedback == [ids[top.pk], ids[follow_up.pk], ids[unrelated.pk]]


def test_feedback_adds_no_statement_and_never_reads_outside_the_scope(fake_openai, user, monkeypatch):
    other = UserFactory()
    secret = resource_add(user=other, title="Private", content="Secret nitrogen sunlight wavelengths notes.")
    docs = [resource_add(user=user, title=f"Optics {n}", content=f"Sky colour {n}: sunlight scattering by "
                         "nitrogen molecules.") for n in range(6)]
    mine = list(Chunk.objects.filter(document__in=docs).values_list("pk", flat=True))
    secret_chunk = Chunk.objects.get(document=secret).pk
    # A stale vector hit outside the caller's scope ranks first in the store.
    _patch_dense(monkeypatch, lambda: [(secret_chunk, 0.95)] + [(pk, 0.5 - n / 100) for n, pk in enumerate(mine)])
    given = []
    real = retrieval.feedback_scores

    def spy(query, dense_ids, candidates):
        given.append(set(candidates))
        return real(query, dense_ids, candidates)

    monkeypatch.setattr(retrieval, "feedback_scores", spy)

    def statements(k):
        with CaptureQueriesContext(connection) as queries:
            passages = retrieve(user=user, query="sky colour", k=k)
        return passages, len(queries.captured_queries)

    retrieve(user=user, query="sky colour", k=2)  # term counts cached, as in a warm process
    passages, with_feedback = statements(2)
    assert given and secret_chunk not in given[-1] and given[-1] <= set(mine)
    assert secret_chunk not in {p.chunk_id for p in passages}
    _, more_candidates = statements(6)
    monkeypatch.setattr(retrieval, "FEEDBACK_WEIGHT", 0.0)
    _, without = statements(2)
    assert with_feedback == more_candidates == without


def test_no_dense_ranking_means_no_feedback_and_lexical_still_answers(fake_openai, user, monkeypatch):
    resource_add(user=user, title="Optics", content="Sky colour comes from scattering of sunlight.")
    called = []
    monkeypatch.setattr(retrieval, "feedback_scores", lambda *args: called.append(args) or {})

    def down(query, *, k, filters):
        raise ProviderError("vector store unreachable")

    monkeypatch.setattr(retrieval, "dense_search", down)
    passages = retrieve(user=user, query="sky colour", k=3)
    assert passages and passages[0].ranks == {"lexical": 1}
    assert retrieve(user=user, query="sky colour", k=3, mode="lexical")
    assert not called


def test_no_embedding_model_means_lexical_only_without_feedback(user, settings, monkeypatch):
    settings.EMBEDDING_BACKENDS = {}
    resource_add(user=user, title="Optics", content="Sky colour comes from scattering of sunlight.")
    called = []
    monkeypatch.setattr(retrieval, "feedback_scores", lambda *args: called.append(args) or {})
    passages = retrieve(user=user, query="sky colour", k=3)
    assert passages and passages[0].ranks == {"lexical": 1} and not called
