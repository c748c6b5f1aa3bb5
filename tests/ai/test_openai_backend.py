"""The OpenAI-compatible backends against the fake server (real SDK, real HTTP)."""

from __future__ import annotations

import email.utils
import time

import pytest

from tests.fakes.openai_server import closed_port_url, use_openai_llm
from tutorhub.ai import Completion, ProviderError, embeddings, llm, usage_scope
from tutorhub.billing.models import UsageRecord

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is a derivative?"}]


def test_complete_returns_text_model_and_usage(fake_openai, user):
    fake_openai.push(text="A derivative is a rate of change.")
    with usage_scope(user=user, feature="test"):
        completion = llm["default"].complete(MESSAGES, temperature=0.2, max_tokens=50)
    assert completion.text == "A derivative is a rate of change."
    assert completion.model == "fake-gpt"
    assert completion.prompt_tokens > 0 and completion.completion_tokens == 7
    path, body = fake_openai.requests[-1]
    assert path.endswith("/chat/completions")
    assert body["messages"] == MESSAGES and body["temperature"] == 0.2 and body["max_tokens"] == 50
    record = UsageRecord.objects.get(user=user)
    assert record.amount == completion.total_tokens and record.feature == "test" and record.model == "fake-gpt"


def test_json_mode_asks_for_a_json_object(fake_openai):
    fake_openai.push(text='{"ok": true}')
    assert llm["default"].complete(MESSAGES, json_mode=True).text == '{"ok": true}'
    assert fake_openai.requests[-1][1]["response_format"] == {"type": "json_object"}


@pytest.mark.django_db(transaction=True)
async def test_stream_yields_pieces_then_completion_with_usage(fake_openai):
    fake_openai.push(text="one two three four")
    stream = llm["default"].astream(MESSAGES)
    pieces = [piece async for piece in stream]
    assert pieces == ["one ", "two ", "three ", "four"]
    assert isinstance(stream.completion, Completion)
    assert stream.completion.text == "one two three four" and stream.completion.completion_tokens == 4
    assert stream.first_token_ms is not None
    body = fake_openai.requests[-1][1]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (503, False), (429, False), (400, True), (401, True)])
def test_http_errors_become_provider_errors(fake_openai, status, permanent):
    fake_openai.push(status=status)
    with pytest.raises(ProviderError) as info:
        llm["default"].complete(MESSAGES)
    assert info.value.permanent is permanent
    assert info.value.status_code == status
    assert "fake upstream" not in str(info.value)  # upstream texts never leak


def test_timeout_is_transient(fake_openai, settings):
    use_openai_llm(settings, fake_openai, timeout=0.3)
    fake_openai.push(delay=1.0)
    with pytest.raises(ProviderError) as info:
        llm["default"].complete(MESSAGES)
    assert info.value.permanent is False and info.value.status_code == 504


def test_retries_transient_errors(fake_openai, settings):
    use_openai_llm(settings, fake_openai, max_retries=2)
    fake_openai.push(status=503)
    fake_openai.push(text="second time lucky")
    assert llm["default"].complete(MESSAGES).text == "second time lucky"
    assert len([r for r in fake_openai.requests if r[0].endswith("/chat/completions")]) == 2


@pytest.mark.django_db(transaction=True)
async def test_stream_dropped_midway_raises_after_the_pieces_that_arrived(fake_openai):
    fake_openai.push(text="alpha beta gamma delta", drop_after=2)
    received = []
    with pytest.raises(ProviderError) as info:
        async for piece in llm["default"].astream(MESSAGES):
            received.append(piece)
    assert received == ["alpha ", "beta "]
    assert info.value.permanent is False


@pytest.mark.django_db(transaction=True)
async def test_stream_http_error(fake_openai):
    fake_openai.push(status=500)
    with pytest.raises(ProviderError):
        async for _ in llm["default"].astream(MESSAGES):
            pass


def test_embeddings_one_vector_per_text_in_order(fake_openai, user):
    with usage_scope(user=user, feature="index"):
        vectors = embeddings["default"].embed(["cats purr", "dogs bark", "cats purr"])
    assert len(vectors) == 3 and len(vectors[0]) == 64
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]
    assert UsageRecord.objects.get(user=user, feature="index").amount == 6


def test_embedding_service_unreachable_is_transient(fake_openai):
    backend = type(embeddings["default"])(model="m", base_url="http://127.0.0.1:9/v1", max_retries=0, timeout=1)
    with pytest.raises(ProviderError) as info:
        backend.embed(["x"])
    assert info.value.permanent is False


def test_bad_configuration_is_reported_by_the_system_check(settings):
    from tutorhub.ai.checks import check_ai_backends

    settings.LLM_BACKENDS = {"default": {"BACKEND": "tutorhub.ai.backends.openai.OpenAILLM", "OPTIONS": {"modle": "x"}}}
    errors = check_ai_backends()
    assert errors and "bad OPTIONS" in errors[0].msg


# --- deadlines, not hangs (issue 12, part 4) -------------------------------------------------
async def _drain(backend, messages=MESSAGES) -> list[str]:
    return [piece async for piece in backend.astream(messages)]


def _deadline_llm(settings, fake_openai, **options):
    """The fake upstream with the SDK-level retries on, so the deadline is what stops them."""
    use_openai_llm(settings, fake_openai, timeout=60.0, max_retries=2, **options)
    return llm["default"]


@pytest.mark.django_db(transaction=True)
async def test_stream_fails_at_the_first_token_deadline_whatever_the_retries(fake_openai, settings):
    backend = _deadline_llm(settings, fake_openai, first_token_timeout=0.5, total_timeout=30)
    fake_openai.push(first_token_delay=3.0)
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        await _drain(backend)
    assert time.monotonic() - started < 0.5 + 1.0
    assert info.value.kind == "timeout" and info.value.status_code == 504 and not info.value.permanent
    assert "start answering" in str(info.value)


@pytest.mark.django_db(transaction=True)
async def test_stream_fails_at_the_total_deadline_after_the_pieces_that_arrived(fake_openai, settings):
    backend = _deadline_llm(settings, fake_openai, first_token_timeout=5, total_timeout=0.8)
    fake_openai.token_delay = 0.3
    fake_openai.push(text="one two three four five six seven eight")
    received: list[str] = []
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        async for piece in backend.astream(MESSAGES):
            received.append(piece)
    assert time.monotonic() - started < 0.8 + 1.0
    assert info.value.kind == "timeout" and "finish" in str(info.value)
    assert 1 <= len(received) < 8 and received[0] == "one "


@pytest.mark.django_db(transaction=True)
async def test_retry_after_longer_than_the_deadline_fails_at_once_and_carries_it(fake_openai, settings):
    backend = _deadline_llm(settings, fake_openai, first_token_timeout=10, total_timeout=30)
    fake_openai.push(status=429, retry_after=120)
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        await _drain(backend)
    assert time.monotonic() - started < 5.0  # not slept on (the provider asked for 120 s)
    assert info.value.kind == "rate_limited" and info.value.retry_after == 120
    assert len([r for r in fake_openai.requests if r[0].endswith("/chat/completions")]) == 1


def test_retry_after_longer_than_the_deadline_fails_at_once_for_whole_answers(fake_openai, settings):
    backend = _deadline_llm(settings, fake_openai, total_timeout=30)
    fake_openai.push(status=429, retry_after=120)
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        backend.complete(MESSAGES)
    assert time.monotonic() - started < 5.0
    assert info.value.kind == "rate_limited" and info.value.retry_after == 120


def test_a_short_retry_after_is_waited_and_retried(fake_openai, settings):
    backend = _deadline_llm(settings, fake_openai, total_timeout=30)
    fake_openai.push(status=429, retry_after=0.3)
    fake_openai.push(text="after the wait")
    started = time.monotonic()
    assert backend.complete(MESSAGES).text == "after the wait"
    assert time.monotonic() - started >= 0.3


def test_whole_answer_total_deadline_bounds_every_attempt(fake_openai, settings):
    """Three attempts at a 60 s timeout used to keep the client 181 s; the total deadline
    caps the call, retries included."""
    backend = _deadline_llm(settings, fake_openai, total_timeout=1.0)
    for _ in range(3):
        fake_openai.push(delay=3.0)
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        backend.complete(MESSAGES)
    assert time.monotonic() - started < 1.0 + 1.0
    assert info.value.kind == "timeout" and info.value.status_code == 504


def test_connection_refused_is_unavailable_not_a_timeout(settings):
    settings.LLM_BACKENDS = {"default": {"BACKEND": "tutorhub.ai.backends.openai.OpenAILLM", "OPTIONS": {
        "base_url": closed_port_url(), "model": "m", "max_retries": 0}}}
    with pytest.raises(ProviderError) as info:
        llm["default"].complete(MESSAGES)
    assert info.value.kind == "unavailable" and info.value.status_code == 503


@pytest.mark.django_db(transaction=True)
async def test_stream_connection_refused_is_unavailable(settings):
    settings.LLM_BACKENDS = {"default": {"BACKEND": "tutorhub.ai.backends.openai.OpenAILLM", "OPTIONS": {
        "base_url": closed_port_url(), "model": "m", "max_retries": 0}}}
    with pytest.raises(ProviderError) as info:
        await _drain(llm["default"])
    assert info.value.kind == "unavailable" and info.value.status_code == 503


def test_a_failed_call_releases_its_quota_reservation_at_once(fake_openai, user):
    from tutorhub.billing.models import QuotaReservation
    from tutorhub.billing.services import quota_check

    quota_check(user=user, kind="ai_tokens", amount=2_300)
    assert QuotaReservation.objects.filter(user=user).count() == 1
    fake_openai.push(status=500)
    with usage_scope(user=user, feature="test"), pytest.raises(ProviderError):
        llm["default"].complete(MESSAGES)
    assert not QuotaReservation.objects.filter(user=user).exists()
    assert not UsageRecord.objects.filter(user=user).exists()  # nothing was generated, nothing is charged


def test_retry_after_header_forms():
    from tutorhub.ai.backends.openai import retry_after_seconds

    assert retry_after_seconds({"retry-after": "120"}) == 120
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert 55 < retry_after_seconds({"retry-after": email.utils.formatdate(time.time() + 60, usegmt=True)}) <= 60
    assert retry_after_seconds({"retry-after": "soon"}) is None and retry_after_seconds({}) is None


@pytest.mark.parametrize("body", ["data: {\"choices\": []}\n\n", ["not", "a", "completion"], {"choices": []}])
def test_a_reply_that_is_not_a_chat_completion_is_a_provider_error(fake_openai, body):
    """An upstream that answers a whole-answer call with an event stream, a list or no choices
    is a clear 502 ProviderError, not an AttributeError (a 500 to the client)."""
    fake_openai.push(body=body)
    with pytest.raises(ProviderError) as caught:
        llm["default"].complete([{"role": "user", "content": "Hi"}])
    assert caught.value.status_code == 502
