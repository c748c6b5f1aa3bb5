"""Streamed WAVs (issue 12): a WAV written to a pipe cannot seek back to fill in its RIFF and data
sizes, so its header carries placeholders; its duration must come from the samples present."""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest
from rest_framework.exceptions import ValidationError

from tests.fakes.openai_server import silent_wav
from tutorhub.courses.audio import inspect_audio

RATE = 22050  # espeak-ng's rate


def streamed_wav(seconds: float, *, data_size: int, riff_size: int | None = None, extra_chunk: bytes = b"") -> bytes:
    """Byte for byte what `espeak-ng --stdout` writes: 16-bit mono PCM, a 16-byte fmt chunk, then a
    data chunk whose size field is a placeholder (espeak-ng: 0x7FFFF000, RIFF size 0x7FFFF024)."""
    samples = struct.pack("<h", 0) * int(seconds * RATE)
    riff = riff_size if riff_size is not None else (data_size + 36) & 0xFFFFFFFF
    fmt = struct.pack("<HHIIHH", 1, 1, RATE, RATE * 2, 2, 16)
    return (
        b"RIFF" + struct.pack("<I", riff) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + extra_chunk
        + b"data" + struct.pack("<I", data_size) + samples
    )


def duration(data: bytes, max_seconds: float = 60) -> float:
    return inspect_audio(data, max_bytes=10**8, max_seconds=max_seconds).duration_seconds


@pytest.mark.parametrize(
    "data_size,riff_size",
    [(0x7FFFF000, None), (0xFFFFFFFF, 0xFFFFFFFF), (0, 0), (0, None)],
    ids=["espeak-ng", "all-ones", "zero", "zero-data-only"],
)
def test_streamed_wav_duration_comes_from_its_data(data_size, riff_size):
    assert duration(streamed_wav(2.5, data_size=data_size, riff_size=riff_size)) == pytest.approx(2.5)


def test_streamed_wav_with_a_chunk_before_data():
    # LIST/INFO chunks (odd length: padded to a word) before `data` are skipped by their real sizes.
    info = b"LIST" + struct.pack("<I", 9) + b"INFOabcde" + b"\x00"
    assert duration(streamed_wav(1.25, data_size=0xFFFFFFFF, extra_chunk=info)) == pytest.approx(1.25, abs=1 / RATE)


def test_limits_still_hold_for_streamed_wavs():
    with pytest.raises(ValidationError, match="limit is 2 s"):
        duration(streamed_wav(3.0, data_size=0x7FFFF000), max_seconds=2)
    with pytest.raises(ValidationError, match="no audio"):
        duration(streamed_wav(0, data_size=0xFFFFFFFF))
    with pytest.raises(ValidationError, match="larger than"):
        inspect_audio(streamed_wav(3.0, data_size=0xFFFFFFFF), max_bytes=1024 * 1024 // 16, max_seconds=60)


def test_a_declared_size_shorter_than_the_file_still_counts():
    # A finished WAV followed by other chunks or padding: its header is right, trailing bytes are not audio.
    assert duration(silent_wav(1.5) + b"\x00" * 16000) == pytest.approx(1.5)


def test_a_truncated_upload_is_measured_by_what_arrived():
    data = silent_wav(3.0)
    assert duration(data[: len(data) // 2]) == pytest.approx(1.5, abs=0.01)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_espeak_ng_stdout_has_the_same_duration_as_its_file_output(tmp_path):
    text = "Merhaba, benim adım Ali. Ben öğrenciyim."
    piped = subprocess.run(["espeak-ng", "--stdout", text], check=True, capture_output=True, timeout=30).stdout
    assert struct.unpack_from("<I", piped, 40)[0] in (0, 0x7FFFF000, 0xFFFFFFFF)  # a placeholder size
    subprocess.run(["espeak-ng", "-w", str(tmp_path / "a.wav"), text], check=True, capture_output=True, timeout=30)
    from_file = duration((tmp_path / "a.wav").read_bytes())
    assert 1.0 < from_file < 10.0
    assert duration(piped) == pytest.approx(from_file, abs=0.01)
