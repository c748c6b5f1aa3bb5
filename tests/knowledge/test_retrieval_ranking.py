"""Heading paths in the index and the embeddings, scoped lexical ranking, and the columns
retrieve() reads (issue 13 items 2-3, issue 15 item 4, issue 17 item 4)."""

from __future__ import annotations

from collections import OrderedDict

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory
from tutorhub.knowledge import indexing
from tutorhub.knowledge.chunking import ChunkDraft, assign_heading_paths, heading_paths, outline_paths
from tutorhub.knowledge.models import Chunk, Document
from tutorhub.knowledge.retrieval import retrieve
from tutorhub.knowledge.services import document_ingest_file, resource_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_counts(monkeypatch):
    """No term counts cached by an earlier test's rows (indexing keeps them per process)."""
    monkeypatch.setattr(indexing, "_df_cache", OrderedDict())


def ranked_documents(ranked: list[tuple[int, float]]) -> list:
    """The documents of a lexical ranking's chunks, in its order."""
    chunk_docs = dict(Chunk.objects.values_list("id", "document_id"))
    return [chunk_docs[chunk_id] for chunk_id, _ in ranked]

BIOLOGY_MD = b"""# Photosynthesis

Plants make their own food from sunlight, water and carbon dioxide.

## Light reactions

Chlorophyll absorbs photons; water is split and oxygen is released.

## Calvin cycle

Enzymes in the stroma fix carbon into sugars using ATP and NADPH.
"""


def test_outline_paths_follow_levels_and_fall_back_without_them():
    outline = [
        {"title": "Photosynthesis", "page": None, "level": 1},
        {"title": "Light reactions", "page": None, "level": 2},
        {"title": "Photosystem II", "page": None, "level": 3},
        {"title": "Calvin cycle", "page": None, "level": 2},
        {"title": "Respiration", "page": None, "level": 1},
    ]
    assert outline_paths("Biology", outline) == [
        "Biology › Photosynthesis",
        "Biology › Photosynthesis › Light reactions",
        "Biology › Photosynthesis › Light reactions › Photosystem II",
        "Biology › Photosynthesis › Calvin cycle",
        "Biology › Respiration",
    ]
    # No levels (documents processed before levels existed): each section sits under the title.
    flat = [{"title": "Intro", "page": None}, {"title": "Methods", "page": None}]
    assert outline_paths("Paper", flat) == ["Paper › Intro", "Paper › Methods"]
    # A page marker is not a heading, and an h1 equal to the title is not repeated.
    assert outline_paths("Scan", [{"title": "Page 3", "page": 3}]) == ["Scan"]
    assert outline_paths("Guide", [{"title": "guide", "page": None, "level": 1}]) == ["Guide"]


def test_heading_paths_match_repeated_section_titles_in_document_order():
    outline = [
        {"title": "Cells", "page": 1, "level": 1},
        {"title": "Examples", "page": 1, "level": 2},
        {"title": "Tissues", "page": 2, "level": 1},
        {"title": "Examples", "page": 2, "level": 2},
    ]
    located = [("Cells", 1), ("Examples", 1), ("Examples", 1), ("Examples", 2), ("Unknown", 9)]
    assert heading_paths("Bio", outline, located) == [
        "Bio › Cells",
        "Bio › Cells › Examples",
        "Bio › Cells › Examples",
        "Bio › Tissues › Examples",
        "Bio › Unknown",
    ]
    drafts = [ChunkDraft("t", 1, "Cells", 0, 1)]
    assert assign_heading_paths(drafts, title="Bio", outline=outline)[0].heading_path == "Bio › Cells"


def test_chunks_store_their_heading_path_and_keep_text_as_the_passage(user):
    doc = document_ingest_file(user=user, data=BIOLOGY_MD, filename="bio.md", name="Biology notes", background=False)
    from tutorhub.knowledge.services.processing import document_process

    document_process(document_id=doc.id)
    chunk = Chunk.objects.get(document=doc, text__contains="stroma")
    assert chunk.section == "Calvin cycle"
    assert chunk.heading_path.startswith("Biology notes › ") and chunk.heading_path.endswith("Calvin cycle")
    assert "Calvin cycle" not in chunk.text  # the passage shown to users is unchanged
    assert chunk.embedding_text == f"{chunk.heading_path}\n\n{chunk.text}"


def test_a_question_naming_a_section_finds_it_and_citations_keep_the_section(user):
    doc = document_ingest_file(user=user, data=BIOLOGY_MD, filename="bio.md", name="Biology notes", background=False)
    from tutorhub.knowledge.services.processing import document_process

    document_process(document_id=doc.id)
    # Neither word of the query is in the passage itself: only its section heading names it.
    passages = retrieve(user=user, query="calvin cycle", mode="lexical")
    assert passages and "stroma" in passages[0].text
    citation = passages[0].citation()
    assert citation["section"] == "Calvin cycle" and citation["document_id"] == str(doc.id)


def test_the_embedder_is_given_the_heading_path(fake_openai, user):
    resource_add(user=user, title="Cell biology", content="Ribosomes build proteins.")
    inputs = [body["input"] for path, body in fake_openai.requests if path.endswith("/embeddings")]
    assert any(isinstance(i, list) and i and i[0].startswith("Cell biology\n\nRibosomes") for i in inputs)


def test_heading_path_data_migration_fills_existing_chunks(user):
    """Migration 0003 recomputes the path of chunks written before the column existed."""
    from importlib import import_module

    from django.apps import apps

    doc = Document.objects.create(owner=user, name="Old notes", processing_status="completed",
                                  outline=[{"title": "Part one", "page": None, "start": 0, "end": 10, "level": 1}])
    Chunk.objects.create(document=doc, position=0, text="Some old passage.", section="Part one")
    migration = import_module("tutorhub.knowledge.migrations.0003_chunk_heading_path")
    migration.fill_heading_paths(apps, None)
    assert Chunk.objects.get(document=doc).heading_path == "Old notes › Part one"
    assert retrieve(user=user, query="part one", mode="lexical")  # and the index follows the update


def _big_document(user, name: str) -> Document:
    text = "\n\n".join(f"Paragraph {i} about osmosis and membranes." for i in range(40))
    doc = resource_add(user=user, title=name, content=text)
    Document.objects.filter(pk=doc.pk).update(extracted_text="x" * 200_000, outline=[{"title": "big"}] * 500)
    return doc


def test_retrieve_reads_only_the_columns_a_passage_needs(user):
    """No large text column on the hot path: the document's extracted_text, outline, summary and
    the like are never fetched by retrieve() (issue 17: 1.29 s of a 1.34 s retrieve was that)."""
    _big_document(user, "Osmosis book")
    with CaptureQueriesContext(connection) as queries:
        passages = retrieve(user=user, query="osmosis membranes", k=5, mode="lexical")
    assert passages and passages[0].document_title == "Osmosis book"
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert selects
    for sql in selects:
        fetched = sql.split(" FROM ", 1)[0]
        for column in ("extracted_text", "outline", "summary", "topics", "key_concepts", "processing_metadata",
                       "description"):
            assert column not in fetched, (column, sql)
    chunk_fetch = next(sql for sql in selects if '"knowledge_chunk"."text"' in sql.split(" FROM ", 1)[0])
    assert '"knowledge_document"."name"' in chunk_fetch


def test_lexical_search_only_ranks_the_callers_chunks(user):
    """Another user's (much larger) matching material never costs the caller: the ranking runs
    over the caller's chunks, and the caller sees only theirs."""
    other = UserFactory()
    for n in range(3):
        _big_document(other, f"Other osmosis {n}")
    mine = resource_add(user=user, title="Mine", content="Osmosis moves water across membranes.")
    passages = retrieve(user=user, query="osmosis membranes water", mode="lexical")
    assert [p.document_id for p in passages] == [str(mine.id)]


def test_common_terms_score_but_do_not_make_candidates(user, monkeypatch, fresh_counts):
    """A term in more than COMMON_TERM_ROWS chunks joins an AND group: it still adds to a
    candidate's score, but a chunk sharing only that word with the question is not ranked (the
    ranking cost stays bounded however many chunks contain "python" or "use")."""
    monkeypatch.setattr(indexing, "COMMON_TERM_ROWS", 2)
    monkeypatch.setattr(indexing, "WIDEN_BELOW", 1)
    for n in range(3):
        resource_add(user=user, title=f"Water {n}", content=f"Water note {n} about rivers.")
    for n in range(8):  # unrelated material, so "water" is not in most chunks (BM25 would not score it)
        resource_add(user=user, title=f"Unrelated {n}", content=f"Volcano {n} erupts with lava.")
    plain = resource_add(user=user, title="Cells", content="Osmosis is a kind of diffusion.")
    wet = resource_add(user=user, title="More cells", content="Osmosis moves water across a membrane.")
    documents = Document.objects.filter(owner=user)
    ranked = indexing.lexical_search("osmosis water", documents=documents, k=20)
    # Only the two osmosis chunks are candidates; "water" still ranks the one that has it first.
    assert ranked_documents(ranked) == [wet.id, plain.id]
    # Two common terms together make a candidate group; one alone never does.
    assert indexing._candidate_groups(["osmosis", "water", "rivers"], connection.vendor) == [["osmosis"], ["water", "rivers"]]
    assert indexing._candidate_groups(["osmosis", "water"], connection.vendor) == [["osmosis"]]
    assert indexing._candidate_groups(["osmosis", "diffusion"], connection.vendor) is None  # nothing common
    # Too few candidates: the search widens to any term rather than answer with less.
    monkeypatch.setattr(indexing, "WIDEN_BELOW", 5)
    assert len(indexing.lexical_search("osmosis water", documents=documents, k=20)) == 5
    # A caller with candidates of its own (hybrid) is told so instead of the wide ranking; the
    # same for a question whose one word is common. A rare word alone is ranked as ever.
    assert indexing.lexical_search("osmosis water", documents=documents, k=20, narrow_only=True) is None
    assert indexing.lexical_search("volcano", documents=documents, k=20, narrow_only=True) is None
    assert len(indexing.lexical_search("volcano", documents=documents, k=20)) == 8
    assert ranked_documents(indexing.lexical_search("membrane", documents=documents, k=20, narrow_only=True)) == [wet.id]


def test_hybrid_ranks_dense_candidates_lexically_when_lexical_search_declines(fake_openai, user, monkeypatch, fresh_counts):
    """A question of one common word: hybrid does not score every chunk holding it; the lexical
    side ranks the dense side's candidates by their lexical scores, and fusion uses both."""
    from tutorhub.knowledge import retrieval

    monkeypatch.setattr(indexing, "COMMON_TERM_ROWS", 2)
    for n in range(4):
        resource_add(user=user, title=f"Rivers {n}", content=f"Water {n} flows to the sea.")
    resource_add(user=user, title="Rocks", content="Volcanoes erupt with lava.")
    seen = {}
    real_fuse = retrieval.fuse

    def spy(rankings, filled=None, feedback=None):
        seen.update(rankings=rankings, filled=filled)
        return real_fuse(rankings, filled, feedback)

    monkeypatch.setattr(retrieval, "fuse", spy)
    monkeypatch.setattr(retrieval, "_missing_scores", lambda *args: pytest.fail("nothing is left to fill"))
    passages = retrieve(user=user, query="water", k=3)
    assert passages and all("Water" in p.text for p in passages)
    dense_ids = [chunk_id for chunk_id, _ in seen["rankings"]["dense"]]
    lexical = seen["rankings"]["lexical"]
    assert {chunk_id for chunk_id, _ in lexical} <= set(dense_ids) and len(lexical) == 4
    assert dict(lexical) == pytest.approx(indexing.lexical_scores("water", dense_ids))
    assert seen["filled"] == {"dense": {}, "lexical": {}}
    assert all("lexical" in p.ranks and "dense" in p.ranks for p in passages)


def test_lexical_scores_are_the_rankings_scores(user):
    """What hybrid fusion asks for a dense-only candidate is the score the lexical ranking gives
    it; a chunk matching no term is absent (score 0)."""
    resource_add(user=user, title="Cells", content="Osmosis moves water across a membrane.")
    resource_add(user=user, title="Rocks", content="Volcanoes erupt with lava.")
    resource_add(user=user, title="Rivers", content="Water flows to the sea.")
    documents = Document.objects.filter(owner=user)
    ranked = dict(indexing.lexical_search("osmosis water", documents=documents, k=10))
    every = list(Chunk.objects.values_list("id", flat=True))
    scores = indexing.lexical_scores("osmosis water", every)
    assert scores.keys() == ranked.keys() and len(scores) == 2
    for chunk_id, score in ranked.items():
        assert scores[chunk_id] == pytest.approx(score)
    assert indexing.lexical_scores("the of", every) == {} and indexing.lexical_scores("osmosis", []) == {}


def test_hybrid_scores_every_candidate_on_both_sides(fake_openai, user, monkeypatch):
    """A chunk only one side returned is scored by the other too (vector similarity from the
    store, BM25 from the index) before fusion, instead of counting 0 there."""
    from tests.fakes.openai_server import fake_embedding
    from tutorhub.ai import vector_stores
    from tutorhub.knowledge import retrieval

    resource_add(user=user, title="Cells", content="The mitochondria is the powerhouse of the cell.")
    resource_add(user=user, title="Rivers", content="Water flows from mountains to the sea.")
    seen = {}
    real = retrieval._missing_scores

    def spy(query, vector, rankings):
        filled = real(query, vector, rankings)
        seen.update(rankings=rankings, filled=filled, vector=vector)
        return filled

    monkeypatch.setattr(retrieval, "_missing_scores", spy)
    monkeypatch.setattr(retrieval, "FUSION_POOL", 2)
    passages = retrieve(user=user, query="mitochondria powerhouse", k=2)
    assert passages and seen["vector"] == fake_embedding("mitochondria powerhouse")
    lexical = {c for c, _ in seen["rankings"]["lexical"]}
    dense = dict(seen["rankings"]["dense"])
    # The river chunk matches no query term: it is a dense-only candidate with no BM25 score.
    dense_only = dense.keys() - lexical
    assert dense_only and not seen["filled"]["lexical"].keys() & dense_only
    # The store's similarity for an id is the score its query gives that id.
    store = vector_stores["default"]
    hits = store.query(seen["vector"], k=5)
    similarities = store.similarities(seen["vector"], [h.id for h in hits] + ["999999"])
    assert similarities.keys() == {h.id for h in hits}
    for hit in hits:
        assert similarities[hit.id] == pytest.approx(hit.score, abs=1e-5)


def test_a_rare_term_outranks_a_common_one(user, fresh_counts):
    """Lexical ranking weighs each term by its rarity (idf) on every database: a passage naming
    the question's rare word once beats one repeating a word most passages hold. On PostgreSQL
    ts_rank alone (the mean of per-term ranks) ranked them the other way round."""
    for n in range(12):
        resource_add(user=user, title=f"Filler {n}", content=f"Every function {n} returns a value to its caller.")
    # Titles without the query's words: the heading path is indexed too.
    common = resource_add(user=user, title="Notes", content="A function calls a function that calls a function.")
    rare = resource_add(user=user, title="More notes", content="A decorator wraps a callable.")
    documents = Document.objects.filter(owner=user)
    ranked = indexing.lexical_search("function decorator", documents=documents, k=5)
    documents_ranked = ranked_documents(ranked)
    assert documents_ranked[0] == rare.id
    assert common.id in documents_ranked[1:]
    # The score filled in for a dense-only candidate is the same idf-weighted score.
    scores = indexing.lexical_scores("function decorator", [cid for cid, _ in ranked])
    assert scores == pytest.approx(dict(ranked))


def test_the_heading_path_counts_only_where_it_holds_every_term(user, fresh_counts):
    """A heading path that shares a word with the question says nothing about the passage: it
    neither ranks a chunk nor adds to its score. One that holds every term (the question names
    the section) counts as much as the passage does, on every database."""
    named = resource_add(user=user, title="Decorator arguments", content="Wrap the function in another one.")
    partial = resource_add(user=user, title="Decorator notes", content="Lists keep their order.")
    passage = resource_add(user=user, title="Misc", content="A decorator that takes arguments returns a decorator.")
    documents = Document.objects.filter(owner=user)
    chunk = {doc.id: Chunk.objects.get(document=doc).id for doc in (named, partial, passage)}
    # `named` holds neither word in its passage: only its path, which holds both, ranks it.
    ranked = dict(indexing.lexical_search("decorator arguments", documents=documents, k=5))
    assert ranked.keys() == {chunk[named.id], chunk[passage.id]}
    assert indexing.lexical_scores("decorator arguments", list(chunk.values())) == pytest.approx(ranked)
    # Asked for what its path does hold, `partial` is found by it.
    assert dict(indexing.lexical_search("decorator", documents=documents, k=5)).keys() == set(chunk.values())


def test_hybrid_takes_half_as_many_lexical_candidates_as_dense(fake_openai, user, monkeypatch):
    """Beside a dense ranking the lexical side brings half the fusion pool (its precision falls
    off faster); alone, it brings the whole pool."""
    from tutorhub.knowledge import retrieval

    resource_add(user=user, title="Cells", content="The mitochondria is the powerhouse of the cell.")
    asked = []
    real = retrieval.lexical_search

    def spy(query, *, documents, k, narrow_only=False):
        asked.append(k)
        return real(query, documents=documents, k=k, narrow_only=narrow_only)

    monkeypatch.setattr(retrieval, "lexical_search", spy)
    assert retrieve(user=user, query="mitochondria powerhouse", k=5)
    assert retrieve(user=user, query="mitochondria powerhouse", k=15, mode="lexical")
    assert asked == [retrieval.FUSION_POOL // 2, 15 * 4]
