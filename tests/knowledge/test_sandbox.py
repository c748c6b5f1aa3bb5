"""Extraction in a resource-limited child process (tutorhub.knowledge.sandbox): results match the
in-process extractor, CPU and memory bombs are stopped with a clear reason, and no child outlives
the call or the process that made it."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from benchmarks.hostile_files import bomb_pdf
from tests.knowledge.conftest import make_docx, make_pdf
from tutorhub.knowledge import sandbox
from tutorhub.knowledge.extraction import ExtractionError, extract
from tutorhub.knowledge.sandbox import extract_sandboxed

WORKER_MODULE = "tutorhub.knowledge.extract_worker"


def extraction_children(parent_pid: int) -> list[int]:
    """Live (not zombie) extraction children of `parent_pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == parent_pid and state != "Z" and WORKER_MODULE.encode() in cmdline:
            found.append(int(entry.name))
    return found


def process_group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def limits(settings):
    settings.EXTRACTION_CPU_SECONDS = 2
    settings.EXTRACTION_WALL_SECONDS = 30
    settings.EXTRACTION_MEMORY_MB = 1024
    return settings


@pytest.fixture
def spawned(monkeypatch):
    """The Popen objects the sandbox creates, to check what became of them."""
    processes = []
    real_popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        process = real_popen(*args, **kwargs)
        processes.append(process)
        return process

    monkeypatch.setattr(sandbox.subprocess, "Popen", recording_popen)
    return processes


def huge_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of width x height black pixels, built row by row (small when compressed,
    width*height*3 bytes when decoded)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * (width * 3)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_sandboxed_results_match_in_process_extraction(limits, spawned):
    pdf = make_pdf(["Photosynthesis\nLight becomes chemical energy.", "Chlorophyll absorbs red and blue light."])
    docx = make_docx([("Cells", ["The nucleus holds DNA."]), ("Energy", ["Mitochondria make ATP."])])
    for data, kind in ((pdf, "pdf"), (docx, "docx"), (b"# Notes\n\nPlain *markdown* text.", "markdown")):
        direct, boxed = extract(data, kind), extract_sandboxed(data, kind)
        assert boxed.blocks == direct.blocks and boxed.pages == direct.pages and boxed.title == direct.title
    assert len(spawned) == 3 and all(p.returncode == 0 for p in spawned)


def test_existing_limits_still_apply_inside_the_sandbox(limits):
    limits.DOCUMENT_MAX_PAGES = 3
    with pytest.raises(ExtractionError, match="has 4 pages; the limit is 3"):
        extract_sandboxed(make_pdf(["a", "b", "c", "d"]), "pdf")
    with pytest.raises(ExtractionError, match="damaged or unreadable"):
        extract_sandboxed(b"%PDF-1.7\n" + b"garbage " * 50, "pdf")


def test_cpu_bomb_is_stopped_at_the_cpu_limit(limits, spawned):
    bomb = bomb_pdf(pages=40, ops=120_000)  # ~45 s of pypdf CPU unbounded
    started = time.monotonic()
    with pytest.raises(ExtractionError, match=r"took longer than 2 s of CPU to extract"):
        extract_sandboxed(bomb, "pdf")
    assert time.monotonic() - started < 30
    (process,) = spawned
    assert process.returncode in (-signal.SIGXCPU, -signal.SIGKILL)
    assert not process_group_alive(process.pid) and extraction_children(os.getpid()) == []


def test_memory_bomb_is_refused_by_the_memory_cap(limits):
    limits.EXTRACTION_MEMORY_MB = 300
    limits.OCR_MAX_PIXELS = 200_000_000  # let it past the pixel check: the cap must stop it
    png = huge_png(13_000, 13_000)  # ~0.5 MB on disk, 507 MB of RGB once decoded
    assert len(png) < 2_000_000
    with pytest.raises(ExtractionError, match="needs more than 300 MB of memory to extract"):
        extract_sandboxed(png, "png")


def test_wall_clock_limit_kills_the_whole_process_group(limits, spawned):
    limits.EXTRACTION_CPU_SECONDS = 60
    limits.EXTRACTION_WALL_SECONDS = 1.5
    started = time.monotonic()
    with pytest.raises(ExtractionError, match=r"took longer than 1.5 s to extract"):
        extract_sandboxed(bomb_pdf(pages=40, ops=120_000), "pdf")
    assert time.monotonic() - started < 15
    (process,) = spawned
    assert process.returncode == -signal.SIGKILL and not process_group_alive(process.pid)


def test_a_crashing_extractor_is_a_clear_failure():
    """A child that dies another way (segfault in a C parser, no result written) fails the file."""
    for returncode, stdout in ((-signal.SIGSEGV, b""), (1, b""), (0, b"not json")):
        with pytest.raises(ExtractionError, match="extractor stopped unexpectedly"):
            sandbox._result(returncode, stdout, b"Traceback ...", cpu_seconds=2)


def test_child_dies_with_the_process_that_started_it(tmp_path):
    """A worker killed with SIGKILL (no finally runs) must not leave its extraction burning CPU."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys\n"
        "from django.conf import settings\n"
        "settings.configure(EXTRACTION_CPU_SECONDS=120, EXTRACTION_WALL_SECONDS=120, EXTRACTION_MEMORY_MB=1024,\n"
        "    DOCUMENT_MAX_PAGES=2000, DOCUMENT_MAX_TEXT_CHARS=10**7, DOCX_MAX_UNCOMPRESSED_BYTES=10**8,\n"
        "    DOCX_MAX_COMPRESSION_RATIO=100, DOCX_MAX_MEMBERS=2000, OCR_MAX_PIXELS=4*10**7, OCR_TIMEOUT_SECONDS=60)\n"
        "from tutorhub.knowledge.sandbox import extract_sandboxed\n"
        "extract_sandboxed(sys.stdin.buffer.read(), 'pdf')\n"
    )
    parent = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, cwd=Path(sandbox.PROJECT_ROOT),
        env={**os.environ, "PYTHONPATH": sandbox.PROJECT_ROOT},
    )
    try:
        parent.stdin.write(bomb_pdf(pages=40, ops=120_000))
        parent.stdin.close()
        deadline = time.monotonic() + 20
        children: list[int] = []
        while not children and time.monotonic() < deadline:
            time.sleep(0.1)
            children = extraction_children(parent.pid)
        assert children, "the extraction child never started"
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{children[0]}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{children[0]}").exists(), "the extraction child outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_child_sees_no_secrets(monkeypatch):
    """The child gets the extractor's settings and a minimal environment, never credentials."""
    monkeypatch.setenv("DATABASE_URL", "postgres://user:secret@db/x")
    monkeypatch.setenv("LLM_API_KEY", "sk-secret")
    env = sandbox._child_env()
    assert "DATABASE_URL" not in env and "LLM_API_KEY" not in env and "SECRET_KEY" not in env
    assert env["OMP_THREAD_LIMIT"] == "1" and sandbox.PROJECT_ROOT in env["PYTHONPATH"]
