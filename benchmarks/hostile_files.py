"""Hostile-file benchmark: a CPU-bomb PDF from one user, a tiny document from another, one worker.

    .venv/bin/python benchmarks/hostile_files.py [--bombs 2] [--pages 40] [--ops 120000]
        [--cpu-seconds 20] [--timeout 600] [--homework]

Builds the bomb itself (raw PDF bytes, ~3 KB): --pages pages that all share one Flate-compressed
content stream of --ops drawing operators and no visible text. pypdf (>= 7) skips content
streams with no text operator at all, so the stream ends with one empty text-show (`() Tj`):
that is enough to make pypdf parse and interpret every operator on every page again, which is
what the finding's file did to older pypdf (≈4 s of CPU per page).

Runs in a throwaway DATA_DIR with its own SQLite database and the database task backend, exactly
as `make run` does: user A uploads --bombs bombs, then user B uploads a tiny text document (both
through `document_ingest_file`, so they are queued by the real enqueue path), then ONE real
`manage.py db_worker` process works the queue. Prints, from the moment the worker starts,
each bomb's time-to-failed (and its stored reason) and the tiny document's time-to-ready.

--homework also times seed 000's `POST /api/homework/upload/` with the bomb (from user A, before
the documents) through the test client: the request must return at once; its extraction is
queued for the same worker, and its time-to-failed is printed with the documents'.

The load average is printed: on a shared machine the CPU limit is CPU seconds, not wall seconds.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DRAWING_OP = b"q 1 0 0 1 0 0 cm 0 0 m 1 1 l S Q\n"  # six drawing operators, no text


def bomb_pdf(*, pages: int, ops: int) -> bytes:
    """`pages` pages sharing one compressed content stream of `ops` drawing operators."""
    return pdf_sharing_stream(DRAWING_OP * max(1, ops // 6) + b"BT () Tj ET\n", pages=pages)


def pdf_sharing_stream(content: bytes, *, pages: int = 1) -> bytes:
    """A raw PDF whose `pages` pages all use one Flate-compressed content stream `content`."""
    stream = zlib.compress(content, 9)
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ] + [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R /Resources << /ProcSet [/PDF] >> >>"] * pages
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bombs", type=int, default=2, help="bombs user A uploads before user B's tiny document")
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--ops", type=int, default=120_000)
    parser.add_argument("--cpu-seconds", type=int, default=None, help="EXTRACTION_CPU_SECONDS for the worker")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    parser.add_argument("--homework", action="store_true", help="also time the seed 000 homework upload of the bomb")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="hostile-bench-")
    env = {
        **os.environ,
        "DATA_DIR": data_dir,
        "DEBUG": "1",
        "SECRET_KEY": "hostile-files-benchmark-" + "k" * 40,
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "DJANGO_SETTINGS_MODULE": "tutorhub.settings",
        "THROTTLING_ENABLED": "0",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "LLM_BASE_URL", "EMBEDDING_BASE_URL", "CHROMA_URL"):
        env.pop(name, None)
    if args.cpu_seconds is not None:
        env["EXTRACTION_CPU_SECONDS"] = str(args.cpu_seconds)
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from tutorhub.knowledge.models import Document
    from tutorhub.knowledge.services.ingestion import document_ingest_file

    call_command("migrate", verbosity=0)
    User = get_user_model()
    attacker = User.objects.create_user(username="bench-a", email="a@bench.invalid", password="x" * 12)
    victim = User.objects.create_user(username="bench-b", email="b@bench.invalid", password="x" * 12)
    bomb = bomb_pdf(pages=args.pages, ops=args.ops)
    print(f"bomb: {len(bomb):,} bytes, {args.pages} pages sharing one stream of {args.ops:,} drawing operators")

    from tutorhub.assessments.models import HomeworkSubmission

    homework = None
    if args.homework:
        from django.core.files.uploadedfile import SimpleUploadedFile
        from rest_framework.test import APIClient

        client = APIClient(HTTP_HOST="localhost")
        client.force_authenticate(attacker)
        client.get("/api/homework/00000000-0000-0000-0000-000000000000/feedback/")  # warm up (URLconf, apps): a 404
        started = time.monotonic()
        response = client.post(
            "/api/homework/upload/",
            {"file": SimpleUploadedFile("bomb.pdf", bomb, content_type="application/pdf"), "title": "bomb"},
            format="multipart",
        )
        print(f"homework upload of the bomb: HTTP {response.status_code} in {time.monotonic() - started:.2f} s "
              f"(status {response.json().get('status')!r})")
        homework = response.json().get("id")

    bombs = [
        document_ingest_file(user=attacker, data=bomb, filename=f"bomb{i}.pdf", name=f"bomb {i}") for i in range(args.bombs)
    ]
    tiny = document_ingest_file(
        user=victim, data=b"Photosynthesis turns light into chemical energy.\n", filename="tiny.txt", name="tiny"
    )
    watched = {str(d.pk): d.name for d in [*bombs, tiny]}

    worker_log = open(Path(data_dir) / "worker.log", "w+b")  # noqa: SIM115 - read after the worker exits
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay", "--interval", "0.1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=worker_log,  # a file: a full pipe would block it
    )
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    started = time.monotonic()
    finished: dict[str, tuple[float, str, str]] = {}
    if homework:
        watched[homework] = "homework"
    try:
        while len(finished) < len(watched) and time.monotonic() - started < args.timeout:
            for doc in Document.objects.filter(pk__in=watched.keys()).exclude(pk__in=finished.keys()):
                if doc.processing_status in (Document.Status.COMPLETED, Document.Status.FAILED):
                    finished[str(doc.pk)] = (time.monotonic() - started, doc.processing_status, doc.processing_error or "")
            if homework and homework not in finished:
                submission = HomeworkSubmission.objects.get(pk=homework)
                if submission.status != HomeworkSubmission.Status.PROCESSING:
                    finished[homework] = (time.monotonic() - started, submission.status, submission.error)
            if worker.poll() is not None and len(finished) < len(watched):
                time.sleep(0.5)  # the last status write may land just after the worker exits
                if len(finished) == len(watched) or not Document.objects.filter(
                    pk__in=watched.keys(), processing_status__in=["pending", "processing"]
                ).exists():
                    continue
                worker_log.seek(0)
                print("worker exited early:", worker_log.read().decode(errors="replace")[-2000:])
                break
            time.sleep(0.1)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait()

    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print(f"one worker, {args.bombs} bomb(s) from user A queued before user B's tiny document:")
    for pk, name in watched.items():
        if pk in finished:
            elapsed, status, error = finished[pk]
            print(f"  {name:8s} {status:9s} after {elapsed:6.1f} s  {error[:90]}")
        else:
            print(f"  {name:8s} unfinished after {args.timeout:.0f} s")
    leftover = subprocess.run(["pgrep", "-f", "tutorhub.knowledge.extract_worker"], capture_output=True, text=True).stdout.split()
    print(f"extraction children still alive: {len(leftover)}")


if __name__ == "__main__":
    main()
