"""Real audio files for tests, made here: espeak-ng WAV, sox OGG, hand-built MP3/WebM/M4A containers."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

from tests.fakes.openai_server import silent_wav


def espeak_wav(text: str, path: Path) -> bytes:
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True, timeout=30)
    return path.read_bytes()


def ogg_from_wav(wav: Path, out: Path) -> bytes:
    subprocess.run(["sox", str(wav), str(out)], check=True, capture_output=True, timeout=30)
    return out.read_bytes()


def mp3_frames(count: int = 100) -> bytes:
    """MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz) of silence: ~26 ms each."""
    return (b"\xff\xfb\x90\x64" + b"\x00" * 413) * count


def _ebml(element_id: bytes, body: bytes) -> bytes:
    return element_id + (0x01000000_00000000 | len(body)).to_bytes(8, "big") + body


def webm(duration_ms: float | None = 3500.0) -> bytes:
    header = _ebml(b"\x1a\x45\xdf\xa3", _ebml(b"\x42\x82", b"webm"))
    info = _ebml(b"\x2a\xd7\xb1", (1_000_000).to_bytes(3, "big"))
    if duration_ms is not None:
        info += _ebml(b"\x44\x89", struct.pack(">d", duration_ms))
    return header + _ebml(b"\x18\x53\x80\x67", _ebml(b"\x15\x49\xa9\x66", info))


def _atom(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def m4a(seconds: float = 2.5) -> bytes:
    mvhd = _atom(b"mvhd", b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, 1000, int(seconds * 1000)) + b"\x00" * 80)
    return _atom(b"ftyp", b"M4A \x00\x00\x02\x00M4A isom") + _atom(b"moov", mvhd)


__all__ = ["espeak_wav", "m4a", "mp3_frames", "ogg_from_wav", "silent_wav", "webm"]
