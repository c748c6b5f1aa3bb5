# Placeholder until the speech backends land (issue 3): espeak-ng TTS, OpenAI-compatible TTS/STT.
from __future__ import annotations

from tutorhub.ai.base import ProviderError, SpeechBackend as _Base


class SpeechBackend(_Base):
    def synthesize(self, text, *, voice=None):
        raise ProviderError("Speech synthesis is not available yet.", permanent=True)

    def transcribe(self, audio, *, filename, content_type, language=None):
        raise ProviderError("Transcription is not available yet.", permanent=True)
