"""Embedding throughput of the default local backend (all-MiniLM-L6-v2 on onnxruntime).

Typical chunks: the product's own chunker at its default size (CHUNK_MAX_TOKENS) over the Python
3.11 documentation that Debian's `python3.11-doc` ships, keeping passages of 100-200 words; they
are embedded in the batches document processing and the backfill use (EMBED_BATCH texts per call).
Prints chunks/s (wall clock and per CPU-second, with the load average, since this machine is
shared), the model's load time (graph built vs. read from the cache) and one query's latency.

Usage:  python benchmarks/embedding_throughput.py [--chunks N]
Also called by benchmarks/retrieval.py.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DOCS = Path("/usr/share/doc/python3.11/html")


def typical_chunks(count: int) -> list[str]:
    from django.conf import settings

    from tutorhub.knowledge.chunking import chunk_blocks
    from tutorhub.knowledge.extraction import html_blocks

    texts: list[str] = []
    for path in sorted(glob.glob(str(DOCS / "library" / "*.html"))):
        blocks = html_blocks(Path(path).read_bytes()).blocks
        for draft in chunk_blocks(blocks, max_tokens=settings.CHUNK_MAX_TOKENS, overlap_tokens=settings.CHUNK_OVERLAP_TOKENS):
            if 100 <= len(draft.text.split()) <= 200:
                texts.append(draft.text)
                if len(texts) == count:
                    return texts
    if not texts:
        sys.exit(f"{DOCS} not found: install Debian's python3.11-doc package.")
    return texts


def measure(count: int = 256, *, quantize: bool = True, texts: list[str] | None = None) -> dict:
    """Figures for `count` typical chunks (or `texts`), embedded by a fresh backend (its own graph
    cache): the default int8 graph, or fp32 with quantize=False."""
    from tutorhub.ai.backends.local import LocalEmbeddings
    from tutorhub.knowledge.services.processing import EMBED_BATCH

    texts = texts or typical_chunks(count)
    with tempfile.TemporaryDirectory(prefix="tutorhub-embed-bench-") as cache:
        started = time.perf_counter()
        LocalEmbeddings(cache_dir=cache, quantize=quantize).embed(["warm up"])
        build_seconds = time.perf_counter() - started
        model = LocalEmbeddings(cache_dir=cache, quantize=quantize)
        started = time.perf_counter()
        model.embed(["warm up"])
        cached_seconds = time.perf_counter() - started
        load_before = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(texts), EMBED_BATCH):
            model.embed(texts[start : start + EMBED_BATCH])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        started = time.perf_counter()
        for _ in range(20):
            model.embed(["How do I sort a list of dictionaries by a key?"])
        query_ms = (time.perf_counter() - started) * 1000 / 20
        tokens = [len(e.ids) for e in model._tokenizer.encode_batch(texts)]
    return {
        "fingerprint": model.fingerprint,
        "chunks": len(texts),
        "words": sum(len(t.split()) for t in texts) / len(texts),
        "tokens": sum(tokens) / len(tokens),
        "chunks_per_s": len(texts) / wall,
        "chunks_per_cpu_s": len(texts) / cpu,
        "load": (load_before, os.getloadavg()[0]),
        "build_s": build_seconds,
        "cached_load_s": cached_seconds,
        "query_ms": query_ms,
    }


def report(figures: dict) -> str:
    return (
        f"embedding throughput ({figures['fingerprint']}, onnxruntime, {os.cpu_count()} CPUs): "
        f"{figures['chunks_per_s']:,.1f} chunks/s wall, {figures['chunks_per_cpu_s']:,.1f} per CPU-second "
        f"({figures['chunks']} chunks of {figures['words']:.0f} words / {figures['tokens']:.0f} tokens mean; "
        f"load average {figures['load'][0]:.1f} -> {figures['load'][1]:.1f}); model load {figures['build_s']:.1f} s "
        f"building the graph, {figures['cached_load_s']:.1f} s from the cache; one query {figures['query_ms']:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--compare-fp32", action="store_true",
                        help="also measure the fp32 graph, right after the int8 one (side by side: robust to the load)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutorhub.settings")
    import django

    django.setup()
    print(report(measure(args.chunks)))
    if args.compare_fp32:
        print(report(measure(args.chunks, quantize=False)))


if __name__ == "__main__":
    main()
