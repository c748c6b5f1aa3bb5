"""The default embedding backend (all-MiniLM-L6-v2 on onnxruntime), its start-up fallback to
lexical retrieval, and the backfill that embeds documents indexed lexically only.

The model is loaded once per test run (the `model` fixture); the backfill's bookkeeping is
tested with a small counting backend, and once end to end with the real model."""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from tests.factories import CourseFactory, UserFactory
from tutorhub.ai import ProviderError, embeddings
from tutorhub.ai.backends import local
from tutorhub.ai.backends.local import LocalEmbeddings
from tutorhub.ai.base import EmbeddingBackend
from tutorhub.knowledge.models import Chunk, Document
from tutorhub.knowledge.services import maintenance
from tutorhub.knowledge.services.maintenance import BACKFILL_KEY, embeddings_backfill
from tutorhub.knowledge.services.processing import FINGERPRINT_KEY, embed_chunks, embedding_fingerprint

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "minilm_reference.json").read_text())
LOCAL = "tutorhub.ai.backends.local.LocalEmbeddings"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def model(model_cache) -> LocalEmbeddings:
    backend = LocalEmbeddings(cache_dir=str(model_cache))
    backend.embed(["load once"])
    return backend


@pytest.fixture(scope="session")
def model_fp32(model_cache) -> LocalEmbeddings:
    backend = LocalEmbeddings(cache_dir=str(model_cache), quantize=False)
    backend.embed(["load once"])
    return backend


@pytest.fixture
def model_files(tmp_path) -> Path:
    """A copy of the installed model package's files, to break one of them."""
    folder = tmp_path / "model"
    shutil.copytree(LocalEmbeddings()._folder(), folder)
    return folder


def cosines(a, b) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# --- the model ----------------------------------------------------------------------------
def test_vectors_match_the_sentence_transformers_computation(model, model_fp32):
    """Reference vectors: the same model computed independently (float32 numpy, the previous
    implementation), covering a short sentence, code, German, an empty text and a text past
    the 256-token limit (truncation). The fp32 graph matches them; the default int8 graph stays
    close (its retrieval quality is measured by benchmarks/retrieval.py)."""
    exact, vectors = model_fp32.embed(REFERENCE["texts"]), model.embed(REFERENCE["texts"])
    assert np.asarray(vectors).shape == (len(REFERENCE["texts"]), 384)
    assert cosines(exact, REFERENCE["vectors"]).min() >= 0.999
    assert 0.97 <= cosines(vectors, REFERENCE["vectors"]).min() < 0.999
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (model.fingerprint, model_fp32.fingerprint) == ("all-MiniLM-L6-v2/int8/256", "all-MiniLM-L6-v2/fp32/256")


def test_a_batch_embeds_each_text_as_if_alone(model, model_fp32):
    """Sorting by length, per-batch padding and putting the vectors back in order change nothing
    (fp32, batches of 2); the int8 default runs one text at a time, so a text's vector never
    depends on what it was embedded with."""
    texts = ["Short.", "A somewhat longer sentence about the water cycle and evaporation.", "Mid length text here.",
             " ".join(["Chlorophyll absorbs red and blue light."] * 20), "Another short one."]
    small_batches = LocalEmbeddings(cache_dir=model_fp32.cache_dir, batch_size=2, quantize=False)
    small_batches._session, small_batches._tokenizer = model_fp32._session, model_fp32._tokenizer
    small_batches._hidden, small_batches._pad_id = model_fp32._hidden, model_fp32._pad_id
    together = small_batches.embed(texts)
    alone = [model_fp32.embed([t])[0] for t in texts]
    assert cosines(together, alone).min() > 0.99999
    assert model.batch_size == 1
    assert np.array_equal(model.embed(texts), [model.embed([t])[0] for t in texts])
    assert model.embed([]) == []


def test_related_texts_are_closer(model):
    v = np.asarray(model.embed(["How do I sort a list?", "Use sorted() to order a list's items.", "It rains in Paris."]))
    assert v[0] @ v[1] > 0.5 > v[0] @ v[2]


def test_the_graph_is_built_once_and_cached(model, model_fp32, model_cache, monkeypatch):
    """The int8 graph is cached beside the fp32 one (each backend caches the graph it runs)."""
    assert sorted(p.name.endswith("-int8.onnx") for p in model_cache.glob("all-MiniLM-L6-v2-*.onnx")) == [False, True]
    assert not list(model_cache.glob("*.tmp"))

    def must_not_build(*args):
        raise AssertionError("the cached graph should be used")

    monkeypatch.setattr(local, "_build_graph", must_not_build)
    monkeypatch.setattr(local, "_quantize", must_not_build)
    again = LocalEmbeddings(cache_dir=str(model_cache))
    again.check()
    assert cosines(again.embed(["cached graph"]), model.embed(["cached graph"]))[0] > 0.99999
    again.check()  # loaded: nothing left to validate


def test_a_damaged_cached_graph_is_rebuilt(model, tmp_path, caplog):
    cache = tmp_path / "models"
    shutil.copytree(model.cache_dir, cache)
    [cached] = cache.glob("*-int8.onnx")
    cached.write_bytes(b"not an onnx model")
    backend = LocalEmbeddings(cache_dir=str(cache))
    with caplog.at_level(logging.WARNING, logger="tutorhub.ai.backends.local"):
        assert cosines(backend.embed(["rebuilt"]), model.embed(["rebuilt"]))[0] > 0.99999
    assert "Rebuilding the embedding graph" in caplog.text and backend.available
    assert "pre-processing" not in caplog.text  # the quantizer's advice for image models is held back
    assert cached.stat().st_size > 1_000_000  # the rebuilt graph replaced the damaged file


def test_an_unwritable_cache_only_costs_a_rebuild(tmp_path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    backend = LocalEmbeddings(cache_dir=str(blocker / "models"), max_tokens=32, threads=1)
    with caplog.at_level(logging.WARNING, logger="tutorhub.ai.backends.local"):
        assert len(backend.embed(["still works"])[0]) == 384
    assert "Cannot cache the embedding graph" in caplog.text


def test_without_quantization_tools_the_fp32_graph_is_used_and_cached(model_fp32, tmp_path, monkeypatch, caplog):
    """An onnxruntime build without onnxruntime.quantization: one warning, fp32 vectors, and the
    fp32 graph cached, so the next process neither rebuilds nor tries to quantize again."""
    monkeypatch.setitem(sys.modules, "onnxruntime.quantization", None)  # import raises ImportError
    backend = LocalEmbeddings(cache_dir=str(tmp_path), max_tokens=32)
    with caplog.at_level(logging.WARNING, logger="tutorhub.ai.backends.local"):
        vector = backend.embed(["fallback"])
    assert "int8 quantization is unavailable" in caplog.text and backend.available
    assert backend.fingerprint == "all-MiniLM-L6-v2/fp32/32"
    assert cosines(vector, model_fp32.embed(["fallback"]))[0] > 0.99999
    [cached] = tmp_path.glob("*.onnx")
    assert not cached.name.endswith("-int8.onnx")
    monkeypatch.setattr(local, "_build_graph", lambda *args: pytest.fail("the cached fp32 graph should be used"))
    again = LocalEmbeddings(cache_dir=str(tmp_path), max_tokens=32)
    assert again.fingerprint == "all-MiniLM-L6-v2/fp32/32"


# --- unavailable model: one warning, lexical retrieval -------------------------------------
def test_a_missing_package_makes_the_backend_unavailable_with_one_warning(caplog):
    backend = LocalEmbeddings(package="no_such_model_package")
    with caplog.at_level(logging.WARNING, logger="tutorhub.ai.backends.local"):
        for _ in range(3):
            with pytest.raises(ProviderError, match="model package"):
                backend.embed(["x"])
    assert not backend.available
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
    with pytest.raises(ProviderError):
        backend.check()


def test_corrupt_weights_fail_the_start_up_check(model_files):
    (model_files / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    backend = LocalEmbeddings(model_dir=str(model_files))
    with pytest.raises(ProviderError, match="lexical only"):
        backend.check()
    assert not backend.available
    with pytest.raises(ProviderError):
        backend.embed(["x"])


def test_weights_that_pass_the_check_but_fail_to_load(model_files, tmp_path, caplog):
    """Header fine, tensors missing (e.g. a truncated download): found at the first load."""
    from safetensors.numpy import save_file

    save_file({"embeddings.word_embeddings.weight": np.zeros((4, 4), dtype=np.float32)}, str(model_files / "model.safetensors"))
    backend = LocalEmbeddings(model_dir=str(model_files), cache_dir=str(tmp_path / "c"))
    backend.check()
    with caplog.at_level(logging.WARNING, logger="tutorhub.ai.backends.local"), pytest.raises(ProviderError):
        backend.embed(["x"])
    assert not backend.available and len(caplog.records) == 1
    assert not list((tmp_path / "c").glob("*"))  # nothing half-built is cached


def test_system_check_warns_once_and_retrieval_answers_lexically(settings, db, caplog):
    from tutorhub.ai.checks import check_embedding_model
    from tutorhub.knowledge.retrieval import retrieve

    settings.EMBEDDING_BACKENDS = {"default": {"BACKEND": LOCAL, "OPTIONS": {"model_dir": "/nonexistent/model"}}}
    [warning] = check_embedding_model()
    assert warning.id == "tutorhub.W010" and "lexical only" in warning.msg
    assert not embeddings.configured()  # marked by the check: no dense attempt per request
    user = UserFactory()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert retrieve(user=user, query="photosynthesis") == []
    assert not caplog.records


def test_a_model_that_fails_at_first_use_warns_once(settings, db, caplog):
    from tutorhub.knowledge.retrieval import retrieve

    settings.EMBEDDING_BACKENDS = {"default": {"BACKEND": LOCAL, "OPTIONS": {"package": "no_such_model_package"}}}
    user = UserFactory()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            retrieve(user=user, query="photosynthesis")
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1


def test_system_check_is_quiet_with_a_working_model(settings, model_cache):
    from tutorhub.ai.checks import check_embedding_model

    settings.EMBEDDING_BACKENDS = {"default": {"BACKEND": LOCAL, "OPTIONS": {"cache_dir": str(model_cache)}}}
    assert check_embedding_model() == []
    settings.EMBEDDING_BACKENDS = {}
    assert check_embedding_model() == []
    settings.EMBEDDING_BACKENDS = {"default": {"BACKEND": LOCAL, "OPTIONS": {"no_such_option": 1}}}
    assert check_embedding_model() == []  # bad OPTIONS: tutorhub.E001's job


# --- settings ------------------------------------------------------------------------------
@pytest.fixture
def reload_settings(monkeypatch):
    """Re-executes tutorhub/settings.py under a patched environment (django.conf.settings, which
    the test run uses, is not affected), then restores the module."""
    import tutorhub.settings as module

    def load(**env):
        for name in ("EMBEDDING_BACKEND", "EMBEDDING_MODEL", "EMBEDDING_MODEL_DIR"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return importlib.reload(module)

    yield load
    monkeypatch.undo()
    importlib.reload(module)


def test_the_local_model_is_the_default(reload_settings):
    loaded = reload_settings()
    assert loaded.EMBEDDING_BACKENDS["default"]["BACKEND"] == LOCAL
    assert loaded.EMBEDDING_BACKENDS["default"]["OPTIONS"]["cache_dir"] == str(loaded.DATA_DIR / "models")
    assert reload_settings(EMBEDDING_MODEL_DIR="/srv/minilm").EMBEDDING_BACKENDS["default"]["OPTIONS"]["model_dir"] == "/srv/minilm"
    assert reload_settings(EMBEDDING_BACKEND="none").EMBEDDING_BACKENDS == {}
    assert "OpenAIEmbeddings" in reload_settings(EMBEDDING_MODEL="text-embedding-3-small").EMBEDDING_BACKENDS["default"]["BACKEND"]
    with pytest.raises(ImproperlyConfigured, match="EMBEDDING_BACKEND"):
        reload_settings(EMBEDDING_BACKEND="numpy")


# --- backfill ------------------------------------------------------------------------------
class CountingEmbeddings(EmbeddingBackend):
    """Deterministic 8-dimensional vectors; records what it embedded; can fail after N calls."""

    calls: list[list[str]] = []
    fail_after: int | None = None

    def embed(self, texts):
        if self.fail_after is not None and len(CountingEmbeddings.calls) >= self.fail_after:
            raise ProviderError("embedding service down")
        CountingEmbeddings.calls.append(list(texts))
        return [[float(len(t) % 7 + 1)] + [0.5] * 7 for t in texts]


@pytest.fixture
def counting(settings):
    CountingEmbeddings.calls = []
    CountingEmbeddings.fail_after = None
    settings.EMBEDDING_BACKENDS = {"default": {"BACKEND": f"{__name__}.CountingEmbeddings"}}
    return CountingEmbeddings


def lexical_only_document(owner, course, chunks: int, **fields) -> Document:
    """A document as a lexical-only install left it: completed, chunked, no vectors."""
    document = Document.objects.create(
        owner=owner, course=course, name=f"doc with {chunks} chunks", processing_status=Document.Status.COMPLETED,
        processed_at=timezone.now(), processing_metadata={"embedding_error": "The embedding service failed."}, **fields,
    )
    Chunk.objects.bulk_create(
        Chunk(document=document, position=i, text=f"Passage {i} of {document.name}.", heading_path="Doc › Part",
              section="Part", token_count=5)
        for i in range(chunks)
    )
    return document


@pytest.fixture
def library(db):
    owner = UserFactory()
    course = CourseFactory(owner=owner)
    return owner, course


def test_backfill_embeds_lexical_only_documents_with_progress(counting, library, monkeypatch):
    owner, course = library
    monkeypatch.setattr(maintenance, "BACKFILL_BATCH", 4)
    big, small = lexical_only_document(owner, course, 10), lexical_only_document(owner, course, 3)
    done_already = lexical_only_document(owner, course, 2, embeddings_available=True)
    Document.objects.filter(pk=done_already.pk).update(processing_metadata={FINGERPRINT_KEY: embedding_fingerprint()})
    lexical_only_document(owner, course, 0)  # nothing to embed
    failed = lexical_only_document(owner, course, 2)
    Document.objects.filter(pk=failed.pk).update(processing_status=Document.Status.FAILED)
    seen = []

    result = embeddings_backfill(on_progress=seen.append)

    assert (result.documents_completed, result.chunks_embedded, result.chunks_remaining) == (2, 13, 0)
    assert seen == [4, 8, 10, 13]
    assert sorted(len(c) for c in counting.calls) == [2, 3, 4, 4]  # bounded batches
    assert counting.calls[0][0] == "Doc › Part\n\nPassage 0 of doc with 10 chunks."  # what ingestion embeds
    for document in (big, small):
        document.refresh_from_db()
        assert document.embeddings_available
        state = document.processing_metadata[BACKFILL_KEY]
        assert state["percentage"] == 100 and state["chunks_embedded"] == state["chunk_count"]
        assert "embedding_error" not in document.processing_metadata
    done_already.refresh_from_db()
    assert BACKFILL_KEY not in done_already.processing_metadata
    assert embeddings_backfill().chunks_embedded == 0  # idempotent: nothing left


def test_backfill_resumes_after_a_failure_and_a_deadline(counting, library, monkeypatch):
    owner, course = library
    monkeypatch.setattr(maintenance, "BACKFILL_BATCH", 4)
    document = lexical_only_document(owner, course, 10)
    counting.fail_after = 1
    result = embeddings_backfill()
    assert (result.chunks_embedded, result.chunks_remaining) == (4, 6)
    document.refresh_from_db()
    assert not document.embeddings_available
    assert document.processing_metadata[BACKFILL_KEY]["percentage"] == 40

    counting.fail_after = None
    assert embeddings_backfill(seconds=0).chunks_embedded == 0  # a spent budget stops before any work
    result = embeddings_backfill(seconds=60)
    assert (result.chunks_embedded, result.documents_completed) == (6, 1)
    assert [c[0].split(" of ")[0] for c in counting.calls] == ["Doc › Part\n\nPassage 0", "Doc › Part\n\nPassage 4",
                                                                "Doc › Part\n\nPassage 8"]  # no chunk twice


def test_a_reprocessed_document_restarts_and_a_changed_one_is_left_alone(counting, library, monkeypatch):
    owner, course = library
    monkeypatch.setattr(maintenance, "BACKFILL_BATCH", 4)
    document = lexical_only_document(owner, course, 6)
    document.processing_metadata[BACKFILL_KEY] = {"processed_at": "2020-01-01T00:00:00+00:00", "next_position": 4,
                                                   "chunks_embedded": 4}
    Document.objects.filter(pk=document.pk).update(processing_metadata=document.processing_metadata)
    original = maintenance._backfill_checkpoint

    def reprocessed_meanwhile(doc, stamp, state, *, finished):
        Document.objects.filter(pk=doc.pk).update(processing_status=Document.Status.PROCESSING)
        return original(doc, stamp, state, finished=finished)

    monkeypatch.setattr(maintenance, "_backfill_checkpoint", reprocessed_meanwhile)
    result = embeddings_backfill()
    assert counting.calls[0][0].endswith("Passage 0 of doc with 6 chunks.")  # old checkpoint ignored
    assert result.chunks_embedded == 0 and result.documents_completed == 0
    document.refresh_from_db()
    assert not document.embeddings_available
    assert document.processing_metadata[BACKFILL_KEY]["processed_at"] == "2020-01-01T00:00:00+00:00"


def embedded_document(owner, course, chunks: int, fingerprint: str | None) -> Document:
    """A document whose vectors an older setting made: in the vector store, with `fingerprint`
    (None: embedded before fingerprints were recorded, e.g. text-only vectors)."""
    document = lexical_only_document(owner, course, chunks, embeddings_available=True)
    embed_chunks(document, list(document.chunks.order_by("position")))
    metadata = {"embeddings_created": True, **({FINGERPRINT_KEY: fingerprint} if fingerprint else {})}
    Document.objects.filter(pk=document.pk).update(processing_metadata=metadata)
    document.refresh_from_db()
    return document


def test_stale_vectors_are_re_embedded_in_place_after_lexical_only_documents(counting, library, monkeypatch):
    """Vectors of another fingerprint (or none recorded) are re-embedded by the same bounded,
    resumable backfill, after the documents that have no vectors at all; the old vectors answer
    dense queries until each is replaced, and the document never loses embeddings_available."""
    from tutorhub.ai import vector_stores
    from tutorhub.knowledge.retrieval import dense_search

    owner, course = library
    monkeypatch.setattr(maintenance, "BACKFILL_BATCH", 4)
    current = embedding_fingerprint()
    assert current == "CountingEmbeddings/unknown|path+text/1"
    before_fingerprints = embedded_document(owner, course, 6, None)
    older_model = embedded_document(owner, course, 3, "all-MiniLM-L6-v2/fp32/256|path+text/1")
    up_to_date = embedded_document(owner, course, 2, current)
    up_to_date.chunks.update(text="Up to date.")
    lexical = lexical_only_document(owner, course, 2)
    counting.calls = []
    deleted = []
    monkeypatch.setattr(vector_stores["default"], "delete", deleted.append)

    counting.fail_after = 2  # lexical-only first (one batch), then one batch of the oldest stale one
    result = embeddings_backfill()
    assert (result.chunks_embedded, result.documents_completed, result.chunks_remaining) == (6, 1, 5)
    assert counting.calls[0][0].endswith(f"Passage 0 of {lexical.name}.")
    before_fingerprints.refresh_from_db()
    assert before_fingerprints.embeddings_available and FINGERPRINT_KEY not in before_fingerprints.processing_metadata
    assert before_fingerprints.processing_metadata[BACKFILL_KEY] | {"chunk_count": 6} == {
        "processed_at": before_fingerprints.processed_at.isoformat(), "fingerprint": current, "next_position": 4,
        "chunks_embedded": 4, "chunk_count": 6, "percentage": 66}
    counting.fail_after = None
    hits, _vector = dense_search("Passage", k=20, filters={"owner_id": owner.pk})
    found = {chunk_id for chunk_id, _score in hits}
    assert set(before_fingerprints.chunks.values_list("pk", flat=True)) <= found  # half new, half old vectors
    assert set(older_model.chunks.values_list("pk", flat=True)) <= found

    result = embeddings_backfill(seconds=60)
    assert (result.chunks_embedded, result.documents_completed, result.chunks_remaining) == (5, 2, 0)
    for document in (before_fingerprints, older_model, lexical):
        document.refresh_from_db()
        assert document.embeddings_available and document.processing_metadata[FINGERPRINT_KEY] == current
        assert document.processing_metadata[BACKFILL_KEY]["percentage"] == 100
    up_to_date.refresh_from_db()
    assert BACKFILL_KEY not in up_to_date.processing_metadata  # never touched
    assert not any("Up to date" in c for call in counting.calls for c in call)
    assert deleted == []  # in place: no document was without vectors
    assert embeddings_backfill().chunks_embedded == 0


def test_a_changed_fingerprint_restarts_a_re_embed_and_the_pipeline_records_it(counting, library, monkeypatch,
                                                                             django_capture_on_commit_callbacks):
    owner, course = library
    monkeypatch.setattr(maintenance, "BACKFILL_BATCH", 4)
    document = embedded_document(owner, course, 6, "old")
    Document.objects.filter(pk=document.pk).update(processing_metadata={
        FINGERPRINT_KEY: "old", BACKFILL_KEY: {"processed_at": document.processed_at.isoformat(), "fingerprint": "other",
                                               "next_position": 4, "chunks_embedded": 4}})
    counting.calls = []
    embeddings_backfill()
    assert counting.calls[0][0].endswith("Passage 0 of doc with 6 chunks.")  # the other setting's checkpoint is void

    from tutorhub.knowledge.services import document_ingest_file

    with django_capture_on_commit_callbacks(execute=True):  # the processing task is enqueued on commit
        uploaded = document_ingest_file(user=owner, data=b"Photosynthesis makes sugar from light.", filename="notes.txt")
    uploaded.refresh_from_db()
    assert uploaded.embeddings_available, uploaded.processing_metadata
    assert uploaded.processing_metadata[FINGERPRINT_KEY] == embedding_fingerprint()


def test_backfill_without_a_usable_backend_does_nothing(settings, library, caplog):
    owner, course = library
    lexical_only_document(owner, course, 3)
    settings.EMBEDDING_BACKENDS = {}
    assert embeddings_backfill().chunks_remaining == 3
    with pytest.raises(CommandError, match="EMBEDDING_BACKEND=none"):
        call_command("embed_backfill")
    settings.EMBEDDING_BACKENDS = {"default": {"BACKEND": LOCAL, "OPTIONS": {"package": "no_such_model_package"}}}
    with pytest.raises(CommandError, match="model package"):
        call_command("embed_backfill")
    result = embeddings_backfill()
    assert result.chunks_embedded == 0 and result.chunks_remaining == 3
    # not checked at start-up: the first run finds out, with one warning for every run
    settings.EMBEDDING_BACKENDS = {"default": {"BACKEND": LOCAL, "OPTIONS": {"model_dir": "/nonexistent/model"}}}
    with caplog.at_level(logging.WARNING):
        assert embeddings_backfill().chunks_embedded == 0
        assert embeddings_backfill().chunks_remaining == 3
    assert len(caplog.records) == 1 and "lexical only" in caplog.records[0].getMessage()


def test_the_periodic_task_runs_a_bounded_backfill(counting, library, settings):
    from tutorhub.core.scheduler import registered_jobs
    from tutorhub.knowledge.tasks import embeddings_backfill_task

    owner, course = library
    lexical_only_document(owner, course, 3)
    assert embeddings_backfill_task in [job.task for job in registered_jobs().values()]
    assert embeddings_backfill_task.priority < 0  # behind uploads in the queue
    settings.EMBEDDING_BACKFILL_SECONDS = 30
    assert embeddings_backfill_task.call() == 3


def test_command_embeds_with_the_real_model_and_dense_retrieval_finds_it(settings, library, model, capsys):
    from tutorhub.knowledge.retrieval import dense_search

    owner, course = library
    document = lexical_only_document(owner, course, 2)
    Chunk.objects.filter(document=document, position=1).update(text="Mitochondria release energy from glucose in cells.")
    settings.EMBEDDING_BACKENDS = {"default": {"BACKEND": LOCAL, "OPTIONS": {"cache_dir": model.cache_dir}}}
    embeddings._backends["default"] = model  # the session's loaded model instead of a second load

    call_command("embed_backfill")
    out = capsys.readouterr().out
    assert "Embedding 2 chunks of 1 documents." in out and "100% 2/2 chunks" in out
    assert "Embedded 2 chunks; 1 documents completed; 0 chunks left." in out
    document.refresh_from_db()
    assert document.embeddings_available
    assert document.processing_metadata[FINGERPRINT_KEY] == "all-MiniLM-L6-v2/int8/256|path+text/1"
    [(chunk_id, score), *_], _vector = dense_search("Where do cells get their energy?", k=2, filters={"owner_id": owner.pk})
    assert chunk_id == Chunk.objects.get(document=document, position=1).pk and score > 0.3

    call_command("embed_backfill")
    assert "embedded already" in capsys.readouterr().out

    # the vectors of an older setting are re-embedded, and the command says so
    Document.objects.filter(pk=document.pk).update(processing_metadata={FINGERPRINT_KEY: "all-MiniLM-L6-v2/fp32/256|path+text/1"})
    call_command("embed_backfill")
    out = capsys.readouterr().out
    assert "Embedding 2 chunks of 1 documents. 1 of them are re-embedded" in out and "1 documents completed" in out
