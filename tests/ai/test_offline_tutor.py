"""The offline extractive tutor: answers only from the passages it is given, with citations."""

from __future__ import annotations

import pytest

from tutorhub.ai import llm
from tutorhub.ai.backends.offline.tutor import NO_MATCH, NO_MATERIAL, select_sentences

PASSAGES = [
    {
        "text": "Photosynthesis converts light energy into chemical energy. It happens in the chloroplasts. "
        "The French Revolution began in 1789.",
        "document_title": "Biology notes",
        "page": 3,
        "section": "Photosynthesis",
    },
    {
        "text": "Chlorophyll absorbs mostly blue and red light. Plants store the chemical energy as glucose.",
        "document_title": "Plant cells",
        "page": None,
        "section": None,
    },
]


def ask(question, passages=PASSAGES):
    return llm["default"].complete(
        [{"role": "user", "content": question}], task="chat", context={"question": question, "passages": passages}
    )


def test_answers_with_the_matching_sentences_and_their_citations():
    completion = ask("How does photosynthesis store chemical energy?")
    assert completion.model == "tutorhub-offline-chat"
    text = completion.text
    assert "Photosynthesis converts light energy into chemical energy. [1]" in text
    assert "Plants store the chemical energy as glucose. [2]" in text
    assert "French Revolution" not in text  # unrelated sentences are left out
    # Sources are listed once, by the chat's citations field, not again in the answer (issue 13).
    assert "Biology notes" not in text and "Sources" not in text


def test_markers_are_the_passages_numbers_in_the_prompt():
    # Only the second passage matches: it is cited as [2], its number in the prompt.
    assert ask("Which light does chlorophyll absorb?").text.endswith("Chlorophyll absorbs mostly blue and red light. [2]")


def test_says_plainly_when_nothing_matches():
    assert ask("Who painted the Mona Lisa?").text == NO_MATCH


def test_says_so_when_there_is_no_material():
    assert ask("What is photosynthesis?", passages=[]).text == NO_MATERIAL


def test_material_that_did_not_match_is_not_called_missing():
    completion = llm["default"].complete(
        [{"role": "user", "content": "q"}], task="chat", context={"question": "Mona Lisa?", "passages": [], "has_material": True}
    )
    assert completion.text == NO_MATCH


def test_stopwords_alone_match_nothing():
    assert select_sentences("what is the", PASSAGES) == []


def test_plural_and_singular_match():
    chosen = select_sentences("chloroplast", PASSAGES)
    assert chosen == [(0, "It happens in the chloroplasts.")]


async def test_streams_in_pieces_like_a_model():
    stream = llm["default"].astream([{"role": "user", "content": "photosynthesis"}], task="chat",
                                    context={"passages": PASSAGES})
    pieces = [p async for p in stream]
    assert len(pieces) > 3
    assert "".join(pieces) == stream.completion.text


def test_unknown_task_is_a_permanent_error():
    from tutorhub.ai import ProviderError

    with pytest.raises(ProviderError) as info:
        llm["default"].complete([{"role": "user", "content": "x"}], task="no-such-task")
    assert info.value.permanent
