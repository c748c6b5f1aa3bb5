"""Speech: text-to-speech through espeak-ng (offline, real WAV) or an OpenAI-compatible
`/audio/speech`; speech-to-text through an OpenAI-compatible `/audio/transcriptions`
(Whisper API, faster-whisper-server, Speaches).

Both calls block (a subprocess or HTTP); async callers run them in a worker thread.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

import openai

from tutorhub.ai.backends.openai import provider_error
from tutorhub.ai.base import ProviderError
from tutorhub.ai.base import SpeechBackend as _Base

# Long answers are cut for speech: a tutor reply read aloud past this is rarely wanted, and
# espeak's run time grows with the text.
MAX_TTS_CHARS = 4000
OPENAI_VOICES = {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"}


class SpeechBackend(_Base):
    """Options:
    tts: "espeak" | "openai"; tts_model, tts_voice (OpenAI voice, or an espeak voice like "en-us");
    base_url: OpenAI-compatible speech service for TTS (defaults to stt_base_url);
    stt_base_url, stt_model: transcription service (none configured -> transcribe raises a
    permanent ProviderError); api_key, timeout (s), max_retries (transient HTTP failures);
    espeak_speed (words per minute).
    """

    def __init__(
        self,
        *,
        tts: str = "espeak",
        tts_model: str = "tts-1",
        tts_voice: str = "alloy",
        base_url: str | None = None,
        stt_base_url: str | None = None,
        stt_model: str = "whisper-1",
        api_key: str = "not-needed",
        timeout: float = 60.0,
        espeak_speed: int = 165,
        max_retries: int = 2,
        **options: Any,
    ):
        super().__init__(**options)
        if tts not in ("espeak", "openai"):
            raise TypeError(f"tts must be 'espeak' or 'openai', not {tts!r}")
        self.tts = tts
        self.tts_model = tts_model
        self.tts_voice = tts_voice
        self.tts_base_url = base_url or stt_base_url
        self.stt_base_url = stt_base_url
        self.stt_model = stt_model
        self.api_key = api_key or "not-needed"
        self.timeout = float(timeout)
        self.espeak_speed = int(espeak_speed)
        self.max_retries = int(max_retries)
        self._clients: dict[str, openai.OpenAI] = {}
        self._lock = threading.Lock()

    def _client(self, base_url: str) -> openai.OpenAI:
        with self._lock:
            if base_url not in self._clients:
                self._clients[base_url] = openai.OpenAI(
                    base_url=base_url, api_key=self.api_key, timeout=self.timeout, max_retries=self.max_retries
                )
            return self._clients[base_url]

    # --- text to speech -----------------------------------------------------------------
    def synthesize(self, text: str, *, voice: str | None = None) -> tuple[bytes, str]:
        text = (text or "").strip()[:MAX_TTS_CHARS]
        if not text:
            raise ProviderError("There is no text to speak.", permanent=True, status_code=400)
        if self.tts == "openai":
            return self._synthesize_openai(text, voice)
        return self._synthesize_espeak(text, voice)

    def _synthesize_espeak(self, text: str, voice: str | None) -> tuple[bytes, str]:
        binary = shutil.which("espeak-ng") or shutil.which("espeak")
        if binary is None:
            raise ProviderError("Text-to-speech needs espeak-ng installed (apt install espeak-ng).", permanent=True)
        # The default voice setting is shared with the OpenAI backend; its names mean nothing to espeak.
        espeak_voice = voice or self.tts_voice
        if espeak_voice in OPENAI_VOICES:
            espeak_voice = "en"
        with tempfile.TemporaryDirectory(prefix="tts-") as tmp:
            out = Path(tmp) / "speech.wav"
            # Text goes through stdin, so a reply starting with "-" is never read as an option;
            # writing to a file (-w) gives a WAV header with the real sizes (stdout's is open-ended).
            try:
                subprocess.run(
                    [binary, "-v", espeak_voice, "-s", str(self.espeak_speed), "-w", str(out), "--stdin"],
                    input=text.encode(),
                    capture_output=True,
                    timeout=self.timeout,
                    check=True,
                )
            except subprocess.TimeoutExpired as exc:
                raise ProviderError("Text-to-speech took too long.", permanent=False, status_code=504) from exc
            except (subprocess.CalledProcessError, OSError) as exc:
                raise ProviderError("Text-to-speech failed.", permanent=False, status_code=502) from exc
            audio = out.read_bytes()
        if not audio.startswith(b"RIFF"):
            raise ProviderError("Text-to-speech produced no audio.", permanent=False, status_code=502)
        return audio, "audio/wav"

    def _synthesize_openai(self, text: str, voice: str | None) -> tuple[bytes, str]:
        if not self.tts_base_url:
            raise ProviderError("Text-to-speech is set to 'openai' but no speech service URL is configured.", permanent=True)
        try:
            response = self._client(self.tts_base_url).audio.speech.create(
                model=self.tts_model, voice=voice or self.tts_voice, input=text, response_format="wav"
            )
            audio = response.read()
        except Exception as exc:
            raise provider_error(exc) from exc
        return audio, "audio/wav"

    # --- speech to text -----------------------------------------------------------------
    def transcribe(self, audio: bytes, *, filename: str, content_type: str, language: str | None = None) -> str:
        if not self.stt_base_url:
            raise ProviderError(
                "Speech-to-text is not configured: set STT_BASE_URL to an OpenAI-compatible "
                "/audio/transcriptions service (Whisper API, faster-whisper-server, Speaches).",
                permanent=True,
            )
        if not audio:
            raise ProviderError("The audio file is empty.", permanent=True, status_code=400)
        params: dict[str, Any] = {"model": self.stt_model, "file": (filename or "audio.wav", audio, content_type)}
        if language:
            params["language"] = language
        try:
            result = self._client(self.stt_base_url).audio.transcriptions.create(**params)
        except Exception as exc:
            raise provider_error(exc) from exc
        text = result if isinstance(result, str) else getattr(result, "text", "")
        return (text or "").strip()
