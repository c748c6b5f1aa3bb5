"""Extraction in a resource-limited child process.

A tiny file can hold minutes of parser work (a PDF whose pages share one stream of 100,000
operators) or gigabytes of pixels. Parsing it in the worker (or a web request) would stall
every document queued behind it, and no in-process timeout can interrupt pure-Python parsing.
So `extract_sandboxed` runs `extraction.extract` in a fresh interpreter
(`python -m tutorhub.knowledge.extract_worker`, started with posix_spawn/fork+exec: no fork of
a threaded server, no inherited database connections) that limits itself before parsing:

- RLIMIT_CPU  `EXTRACTION_CPU_SECONDS` (SIGXCPU, then SIGKILL a second later),
- RLIMIT_AS   `EXTRACTION_MEMORY_MB` (allocations fail: MemoryError → a clear message),
- wall clock  `EXTRACTION_WALL_SECONDS`, enforced here: the whole process group is killed
  (tesseract included), so a child blocked on I/O or a slow grandchild cannot hang the worker.

The child gets its own session (process group) and, on Linux, PR_SET_PDEATHSIG, and this
function kills the group in `finally` whatever happens (timeout, KeyboardInterrupt, SIGTERM
turned into an exception), so no extraction outlives the process that asked for it. The caller
gets an `Extracted` or an `ExtractionError` whose message says which limit was hit.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from tutorhub.knowledge.chunking import Block
from tutorhub.knowledge.extraction import Extracted, ExtractionError

logger = logging.getLogger(__name__)

# The extractors read these settings; the child has no Django project, so they travel along.
CHILD_SETTINGS = (
    "DOCUMENT_MAX_PAGES",
    "DOCUMENT_MAX_TEXT_CHARS",
    "DOCX_MAX_UNCOMPRESSED_BYTES",
    "DOCX_MAX_COMPRESSION_RATIO",
    "DOCX_MAX_MEMBERS",
    "OCR_MAX_PIXELS",
    "OCR_TIMEOUT_SECONDS",
    "EXTRACTION_MEMORY_MB",
    "EXTRACTION_CPU_SECONDS",  # the PDF layout pass spends at most half of it (extraction._pdf)
)
# Only what the child (and tesseract) need from the environment: no secrets, no database URL.
CHILD_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TESSDATA_PREFIX", "HOME", "SYSTEMROOT")
PROJECT_ROOT = str(Path(__file__).resolve().parent.parent.parent)


def _child_env() -> dict[str, str]:
    env = {name: os.environ[name] for name in CHILD_ENVIRONMENT if name in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PROJECT_ROOT, os.environ.get("PYTHONPATH", "")) if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # One thread for tesseract/BLAS: a file gets one core, whatever the machine has.
    env["OMP_THREAD_LIMIT"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    return env


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the child's process group (the child and anything it started)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
        logger.error("Extraction child %s did not die after SIGKILL", process.pid)
    for stream in (process.stdin, process.stdout, process.stderr):  # communicate() left them open on a timeout
        if stream is not None:
            stream.close()


def extract_sandboxed(data: bytes, kind: str) -> Extracted:
    """`extraction.extract(data, kind)` in a child with CPU, memory and wall-clock limits.
    Raises ExtractionError only (a limit hit is a clear message for the user)."""
    cpu_seconds = max(1, int(settings.EXTRACTION_CPU_SECONDS))
    memory_mb = max(0, int(settings.EXTRACTION_MEMORY_MB))
    wall_seconds = max(1.0, float(settings.EXTRACTION_WALL_SECONDS))
    header = {
        "kind": kind,
        "cpu_seconds": cpu_seconds,
        "memory_bytes": memory_mb * 1024 * 1024,
        "parent_pid": os.getpid(),
        "settings": {name: getattr(settings, name) for name in CHILD_SETTINGS},
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tutorhub.knowledge.extract_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_child_env(),
        cwd=PROJECT_ROOT,
        start_new_session=True,  # its own process group, so the kill reaches tesseract too
    )
    try:
        try:
            stdout, stderr = process.communicate(json.dumps(header).encode() + b"\n" + data, timeout=wall_seconds)
        except subprocess.TimeoutExpired:
            raise ExtractionError(
                f"The file took longer than {wall_seconds:g} s to extract and was stopped; "
                "simplify or split it and upload it again."
            ) from None
    finally:
        _kill_group(process)
    return _result(process.returncode, stdout, stderr, cpu_seconds=cpu_seconds)


def _result(returncode: int, stdout: bytes, stderr: bytes, *, cpu_seconds: int) -> Extracted:
    # RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL at the hard one (nothing else sends us SIGKILL
    # except the kernel's OOM killer, whose victim also needed too much).
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise ExtractionError(
            f"The file took longer than {cpu_seconds} s of CPU to extract and was stopped; "
            "simplify or split it and upload it again."
        )
    try:
        result = json.loads(stdout) if returncode == 0 else None
    except ValueError:
        result = None
    if not isinstance(result, dict):
        logger.warning("Extraction child exited with %s: %s", returncode, stderr[-2000:].decode(errors="replace"))
        raise ExtractionError("The file could not be read (the extractor stopped unexpectedly).")
    if not result.get("ok"):
        raise ExtractionError(str(result.get("error") or "The file could not be read."))
    return Extracted(
        blocks=[Block(text=b["text"], page=b.get("page"), section=b.get("section"), level=b.get("level")) for b in result["blocks"]],
        pages=result.get("pages"),
        title=result.get("title") or "",
        metadata=result.get("metadata") or {},
    )
