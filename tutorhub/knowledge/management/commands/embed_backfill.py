from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from tutorhub.ai import ProviderError, embeddings
from tutorhub.knowledge.services.maintenance import embeddings_backfill, embeddings_backfill_pending
from tutorhub.knowledge.services.processing import embedding_fingerprint


class Command(BaseCommand):
    help = (
        "Embed every document that was indexed lexically only (processed while no embedding model "
        "was usable), then re-embed those whose vectors came from another model or setting, showing "
        "progress. Safe to interrupt and rerun: it resumes where it stopped. "
        "The worker does the same in the background (knowledge.tasks.embeddings_backfill_task)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=None, help="stop after about this long (default: run to the end)")

    def handle(self, *args, seconds=None, **options):
        if not embeddings.configured():
            raise CommandError("No embedding backend is configured (EMBEDDING_BACKEND=none): nothing to embed with.")
        try:
            embeddings["default"].check()
            fingerprint = embedding_fingerprint()
        except ProviderError as exc:
            raise CommandError(str(exc)) from exc
        rows = list(embeddings_backfill_pending(fingerprint).values_list("chunk_total", "embeddings_available"))
        total, documents = sum(count for count, _ in rows), len(rows)
        if not total:
            self.stdout.write("Every document with chunks is embedded already.")
            return
        stale = sum(1 for _, embedded in rows if embedded)
        self.stdout.write(
            f"Embedding {total} chunks of {documents} documents."
            + (f" {stale} of them are re-embedded: their vectors are not {fingerprint}'s." if stale else "")
        )
        started = time.monotonic()

        def show(done: int) -> None:
            rate = done / max(time.monotonic() - started, 1e-9)
            filled = int(30 * done / total)
            self.stdout.write(
                f"\r[{'#' * filled}{' ' * (30 - filled)}] {100 * done // total:3d}% {done}/{total} chunks, {rate:.0f} chunks/s",
                ending="",
            )
            self.stdout.flush()

        result = embeddings_backfill(seconds=seconds, on_progress=show)
        self.stdout.write("")
        self.stdout.write(
            f"Embedded {result.chunks_embedded} chunks; {result.documents_completed} documents completed; "
            f"{result.chunks_remaining} chunks left."
        )
        if result.chunks_remaining and seconds is None:
            raise CommandError("The backfill stopped early (see the warning above); rerun to resume.")
