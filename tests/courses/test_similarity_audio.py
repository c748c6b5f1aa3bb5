from __future__ import annotations

import pytest
from rest_framework.exceptions import ValidationError

from tests.courses.audio_samples import m4a, mp3_frames, webm
from tests.fakes.openai_server import silent_wav
from tutorhub.courses.audio import inspect_audio, sniff_audio_format
from tutorhub.homework.similarity import speech_similarity, word_edit_distance, words


def test_words_normalise_case_punctuation_and_unicode():
    assert words("MERHABA, benim adım Ali!") == ["merhaba", "benim", "adım", "ali"]
    assert words("ﬁne") == ["fine"]  # NFKC folds the ligature


def test_similarity_metric():
    assert speech_similarity("hello world", "Hello, world!").score == 1.0
    assert speech_similarity("", "").score == 1.0
    assert speech_similarity("one two three four", "").score == 0.0
    r = speech_similarity("I am a student", "I am student today")
    assert word_edit_distance(words("I am a student"), words("I am student today")) == 2
    assert r.score == 0.5 and r.missing == ["a"] and r.extra == ["today"]
    sub = speech_similarity("my name is Ali", "my name is Veli")
    assert sub.score == 0.75 and sub.substituted == [("ali", "veli")]


@pytest.mark.parametrize(
    "data,fmt",
    [(silent_wav(0.1), "wav"), (mp3_frames(2), "mp3"), (b"ID3\x04rest", "mp3"), (b"OggS\x00", "ogg"), (webm(), "webm"), (m4a(), "m4a")],
)
def test_sniffing(data, fmt):
    assert sniff_audio_format(data[:16]) == fmt


def test_durations_and_limits():
    assert inspect_audio(silent_wav(1.5), max_bytes=10**7, max_seconds=60).duration_seconds == pytest.approx(1.5)
    assert inspect_audio(webm(3500), max_bytes=10**7, max_seconds=60).duration_seconds == pytest.approx(3.5)
    assert inspect_audio(webm(None), max_bytes=10**7, max_seconds=60).duration_seconds is None  # MediaRecorder style
    assert inspect_audio(m4a(2.5), max_bytes=10**7, max_seconds=60).duration_seconds == pytest.approx(2.5)
    assert 2.0 < inspect_audio(mp3_frames(100), max_bytes=10**7, max_seconds=60).duration_seconds < 3.0
    with pytest.raises(ValidationError):
        inspect_audio(m4a(90), max_bytes=10**7, max_seconds=60)
    with pytest.raises(ValidationError):
        inspect_audio(b"OggS" + b"\x00" * 50, max_bytes=10**7, max_seconds=60)  # damaged
