"""Audio upload checks for homework: format by magic bytes (never the client's name or type),
size, and duration. WAV duration comes from its fmt chunk and the bytes actually in its data chunk
(streamed WAVs carry placeholder sizes); MP3/OGG/M4A from mutagen's
stream parsers; WebM from the EBML Segment/Info/Duration element (browser MediaRecorder files
often omit it, then only the size limit applies)."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from rest_framework.exceptions import ValidationError

CONTENT_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "webm": "audio/webm",
    "m4a": "audio/mp4",
}
SUPPORTED = "WAV, MP3, OGG, WebM or M4A"


@dataclass(frozen=True)
class AudioInfo:
    format: str
    content_type: str
    duration_seconds: float | None


def sniff_audio_format(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        return "m4a"
    return None


WAV_FORMATS = {0x0001, 0x0003, 0xFFFE}  # PCM, IEEE float, WAVE_FORMAT_EXTENSIBLE


def _wav_duration(data: bytes) -> float:
    """Duration from the samples present, not from the header's sizes.

    A WAV written to a pipe (`espeak-ng --stdout`, streaming recorders) cannot seek back to fill in
    its sizes, so its RIFF and data sizes are placeholders: 0, 0xFFFFFFFF, or espeak-ng's
    0x7FFFF000 ("48696 s" at 22 kHz). The stdlib `wave` trusts them (and rejects a RIFF size of 0),
    so the chunks are walked here: chunk sizes before `data` (fmt, LIST, fact...) are real, the
    declared data size counts only when it is no larger than the bytes actually there, and a
    truncated upload is measured by what arrived.
    """
    rate = block_align = None
    pos = 12  # after "RIFF<size>WAVE"; the RIFF size itself is ignored
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise ValueError("WAV fmt chunk is too short")
            tag, _channels, rate, _byte_rate, block_align = struct.unpack_from("<HHIIH", data, body)
            if tag not in WAV_FORMATS or not rate or not block_align:
                raise ValueError(f"unsupported WAV encoding {tag:#x}")
        elif chunk_id == b"data":
            if rate is None:
                raise ValueError("WAV data chunk before its fmt chunk")
            present = len(data) - body
            data_bytes = size if 0 < size <= present else present
            return (data_bytes // block_align) / float(rate)
        pos = body + size + (size & 1)  # chunks are word-aligned
    raise ValueError("WAV file has no data chunk")


def _mutagen_duration(data: bytes, fmt: str) -> float:
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis

    if fmt == "mp3":
        return MP3(io.BytesIO(data)).info.length
    if fmt == "m4a":
        return MP4(io.BytesIO(data)).info.length
    for cls in (OggVorbis, OggOpus):
        try:
            return cls(io.BytesIO(data)).info.length
        except Exception:  # noqa: BLE001 - try the next Ogg codec
            continue
    raise ValueError("unknown Ogg codec")


def _ebml_vint(data: bytes, pos: int, *, strip: bool) -> tuple[int, int]:
    first = data[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise ValueError("bad EBML vint")
    value = first & (0xFF >> length) if strip else first
    for b in data[pos + 1 : pos + length]:
        value = (value << 8) | b
    return value, pos + length


def _webm_duration(data: bytes) -> float | None:
    """Duration from Segment → Info → Duration (scaled by TimecodeScale), or None when absent."""
    containers = {0x18538067, 0x1549A966}  # Segment, Info: descend into these
    pos, end, scale, duration = 0, min(len(data), 1 << 20), 1_000_000, None
    while pos < end:
        element_id, pos = _ebml_vint(data, pos, strip=False)
        size, pos = _ebml_vint(data, pos, strip=True)
        if element_id in containers:
            continue
        body = data[pos : pos + size]
        if element_id == 0x2AD7B1:
            scale = int.from_bytes(body, "big")
        elif element_id == 0x4489:
            duration = struct.unpack(">f" if size == 4 else ">d", body)[0]
        elif element_id in (0x1654AE6B, 0x1F43B675):  # Tracks / Cluster: Info is behind us
            break
        pos += size
    return duration * scale / 1e9 if duration is not None else None


def inspect_audio(data: bytes, *, max_bytes: int, max_seconds: float) -> AudioInfo:
    """Validate an uploaded audio file. Raises DRF ValidationError (400) on the field `audio_submission`."""

    def bad(message: str) -> ValidationError:
        return ValidationError({"audio_submission": [message]})

    if not data:
        raise bad("The audio file is empty.")
    if len(data) > max_bytes:
        raise bad(f"The audio file is larger than {max_bytes // (1024 * 1024)} MB.")
    fmt = sniff_audio_format(data[:16])
    if fmt is None:
        raise bad(f"Unsupported audio format; upload {SUPPORTED}.")
    try:
        if fmt == "wav":
            duration = _wav_duration(data)
        elif fmt == "webm":
            duration = _webm_duration(data)
        else:
            duration = _mutagen_duration(data, fmt)
    except Exception as exc:  # noqa: BLE001 - any parser failure means a broken file
        raise bad(f"The {fmt.upper()} file could not be read; it may be damaged.") from exc
    if duration is not None and duration > max_seconds:
        raise bad(f"The recording is {duration:.0f} s long; the limit is {max_seconds:.0f} s.")
    if duration is not None and duration <= 0:
        raise bad("The recording has no audio.")
    return AudioInfo(format=fmt, content_type=CONTENT_TYPES[fmt], duration_seconds=duration)
