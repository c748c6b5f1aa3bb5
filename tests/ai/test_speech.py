"""Speech backends: espeak-ng makes a real WAV offline; OpenAI-compatible TTS/STT via the fake server."""

from __future__ import annotations

import io
import wave

import pytest

from tests.fakes.openai_server import silent_wav
from tutorhub.ai import ProviderError, speech
from tutorhub.ai.backends.speech import SpeechBackend


def _duration(audio: bytes) -> float:
    with wave.open(io.BytesIO(audio)) as w:
        return w.getnframes() / w.getframerate()


def test_espeak_synthesizes_a_real_wav():
    audio, content_type = SpeechBackend(tts="espeak").synthesize("The derivative measures a rate of change.")
    assert content_type == "audio/wav"
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    assert _duration(audio) > 1.0  # a sentence of speech, not a header


def test_espeak_reads_text_that_looks_like_an_option():
    audio, _ = SpeechBackend(tts="espeak").synthesize("--help me with fractions")
    assert audio[:4] == b"RIFF" and _duration(audio) > 0.5


def test_default_backend_is_espeak_offline():
    audio, content_type = speech["default"].synthesize("Hello")
    assert audio[:4] == b"RIFF" and content_type == "audio/wav"


def test_empty_text_is_refused():
    with pytest.raises(ProviderError) as info:
        SpeechBackend().synthesize("   ")
    assert info.value.permanent


def test_openai_tts_through_the_fake_server(fake_openai):
    audio, content_type = speech["default"].synthesize("Hello there")
    assert audio == silent_wav() and content_type == "audio/wav"
    path, body = fake_openai.requests[-1]
    assert path.endswith("/audio/speech") and body["input"] == "Hello there" and body["voice"] == "alloy"


def test_transcription_through_the_fake_server(fake_openai):
    fake_openai.transcript = "what is photosynthesis"
    text = speech["default"].transcribe(silent_wav(), filename="q.wav", content_type="audio/wav", language="en")
    assert text == "what is photosynthesis"
    assert fake_openai.requests[-1][0].endswith("/audio/transcriptions")


def test_transcription_upstream_failure(fake_openai):
    fake_openai.push(status=500)
    backend = SpeechBackend(stt_base_url=fake_openai.base_url, max_retries=0, timeout=5)
    with pytest.raises(ProviderError) as info:
        backend.transcribe(silent_wav(), filename="q.wav", content_type="audio/wav")
    assert not info.value.permanent


def test_transcription_retries_a_transient_failure(fake_openai):
    fake_openai.push(status=503)
    assert speech["default"].transcribe(silent_wav(), filename="q.wav", content_type="audio/wav") == "hello world"


def test_transcription_without_a_service_is_a_clear_permanent_error():
    with pytest.raises(ProviderError) as info:
        SpeechBackend(stt_base_url=None).transcribe(silent_wav(), filename="q.wav", content_type="audio/wav")
    assert info.value.permanent and "STT_BASE_URL" in str(info.value)


def test_unknown_tts_engine_is_a_configuration_error(settings):
    from tutorhub.ai.checks import check_ai_backends

    settings.SPEECH_BACKENDS = {"default": {"BACKEND": "tutorhub.ai.backends.speech.SpeechBackend", "OPTIONS": {"tts": "sam"}}}
    assert check_ai_backends()
