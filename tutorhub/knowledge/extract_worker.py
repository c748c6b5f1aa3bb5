"""Child-process side of sandboxed extraction (`python -m tutorhub.knowledge.extract_worker`).

Started by `tutorhub.knowledge.sandbox.extract_sandboxed`, never by hand. Protocol:
stdin  = one JSON line {"kind", "cpu_seconds", "memory_bytes", "parent_pid", "settings": {...}}
         followed by the file's raw bytes;
stdout = one JSON object: {"ok": true, "blocks": [{"text", "page", "section", "level"}], "pages", "title", "metadata"} or
         {"ok": false, "error": "<message for the user>"}.

The limits are applied to this process itself before a single byte of the file is parsed, so
they also bind any program the extractor starts (tesseract inherits them). Django is not set
up here: only the handful of limit settings the extractors read are configured, which keeps
start-up at a fraction of a second and means a hostile file never runs next to a database
connection.
"""

from __future__ import annotations

import json
import os
import signal
import sys


def _die_with_parent(parent_pid: int) -> None:
    """Linux: SIGKILL us when the process that started us dies (even by SIGKILL), so a killed
    worker never leaves an extraction burning CPU. Elsewhere the parent's wall-clock kill and
    RLIMIT_CPU still bound us."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _limit(cpu_seconds: int, memory_bytes: int) -> None:
    import resource

    # Soft limit: SIGXCPU (default action kills us); hard limit one second later: SIGKILL,
    # in case the extractor blocks or ignores SIGXCPU.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a killed extractor must not write core files


def main() -> int:
    stdin = sys.stdin.buffer
    header = json.loads(stdin.readline())
    _die_with_parent(int(header["parent_pid"]))
    _limit(int(header["cpu_seconds"]), int(header["memory_bytes"]))
    data = stdin.read()

    from django.conf import settings

    settings.configure(**header["settings"])
    from tutorhub.knowledge.extraction import ExtractionError, extract

    try:
        extracted = extract(data, header["kind"])  # maps MemoryError (RLIMIT_AS) to ExtractionError
    except ExtractionError as exc:
        result = {"ok": False, "error": str(exc)}
    else:
        result = {
            "ok": True,
            "blocks": [{"text": b.text, "page": b.page, "section": b.section, "level": b.level} for b in extracted.blocks],
            "pages": extracted.pages,
            "title": extracted.title,
            "metadata": extracted.metadata,
        }
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
