"""The OpenAI-compatible backends against the fake server (real SDK, real HTTP)."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import use_openai_llm
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
