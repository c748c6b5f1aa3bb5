"""The tutor's words and sources (issue 13 items 8 and 10): "no material yet" only without
material, sources given once (the citations field, not the answer text), and with a real model
the citations are the passages the answer cites with [n] markers."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from tests.chat.conftest import PHOTOSYNTHESIS
from tests.chat.test_consumer import connect, converse
from tutorhub.ai.backends.offline.tutor import NO_MATCH, NO_MATERIAL
from tutorhub.chat.models import Message
from tutorhub.chat.services.tutor import NO_MATCH_NOTE, NO_MATERIAL_NOTE, cited_markers

CHATS = "/api/v1/chat/chats/"
MITOSIS = "Mitosis divides one cell nucleus into two identical nuclei. It has four phases."


def ask(api_client, session, question: str) -> dict:
    response = api_client.post(f"{CHATS}{session.pk}/send_message/", {"content": question})
    assert response.status_code == 201, response.json()
    return response.json()["ai_response"]


def test_markers_are_parsed_deduplicated_and_bounded():
    assert cited_markers("A [2]. B [1][2]. C [1, 3]. D [9]. E [0].", 3) == [2, 1, 3]
    assert cited_markers("No citation here, only [a] and [].", 3) == []
    assert cited_markers("[1]", 0) == []


@pytest.mark.django_db
def test_no_material_yet_only_without_documents(api_client, user, chat_session, add_document):
    assert ask(api_client, chat_session, "Where does photosynthesis happen?")["content"] == NO_MATERIAL
    add_document(user=user, title="Biology notes", content=PHOTOSYNTHESIS)
    answer = ask(api_client, chat_session, "Who won the 1998 World Cup?")
    assert answer["content"] == NO_MATCH
    assert answer["context_used"]["citations"] == [] and answer["context_used"]["matched"] is False


@pytest.mark.django_db
def test_offline_sources_are_given_once_in_the_citations_field(api_client, user, chat_session, add_document):
    document = add_document(user=user, title="Biology notes", content=PHOTOSYNTHESIS)
    answer = ask(api_client, chat_session, "Where does photosynthesis take place?")
    assert "[1]" in answer["content"]
    assert "Sources" not in answer["content"] and "Biology notes" not in answer["content"]
    [citation] = answer["context_used"]["citations"]
    assert citation["marker"] == 1 and citation["document_id"] == str(document.pk)
    assert answer["citations"] == answer["context_used"]["citations"]


@pytest.mark.django_db
def test_real_model_citations_are_the_passages_it_cites(api_client, user, chat_session, add_document, fake_openai):
    add_document(user=user, title="Biology notes", content=PHOTOSYNTHESIS)
    add_document(user=user, title="Cell division", content=MITOSIS)
    fake_openai.push(text="Cells divide by mitosis [2]; plants make glucose [2][1], see also [7].")
    answer = ask(api_client, chat_session, "How do cells divide and how do plants make glucose?")
    prompt = fake_openai.requests[-1][1]["messages"]
    assert "[n]" not in prompt[0]["content"] and "[1] or [2][3]" in prompt[0]["content"]
    passages = next(m["content"] for m in prompt if m["content"].startswith("Study passages:"))
    assert "[1] (" in passages and "[2] (" in passages
    retrieved = answer["context_used"]["retrieved"]
    assert [r["marker"] for r in retrieved] == [1, 2]
    citations = answer["context_used"]["citations"]
    # In order of first citation, each once; [7] names no passage and is ignored.
    assert [c["marker"] for c in citations] == [2, 1]
    assert [c["chunk_id"] for c in citations] == [retrieved[1]["chunk_id"], retrieved[0]["chunk_id"]]
    assert answer["context_used"]["documents_referenced"] == [retrieved[1]["document_id"], retrieved[0]["document_id"]]


@pytest.mark.django_db
def test_real_model_answer_citing_nothing_has_no_citations(api_client, user, chat_session, add_document, fake_openai):
    add_document(user=user, title="Biology notes", content=PHOTOSYNTHESIS)
    fake_openai.push(text="Photosynthesis happens in leaves.")
    answer = ask(api_client, chat_session, "Where does photosynthesis happen?")
    context = answer["context_used"]
    assert context["citations"] == [] and context["documents_referenced"] == [] and context["course_concepts"] == []
    # What it was given is kept apart, never presented as its sources.
    assert context["matched"] is True and len(context["retrieved"]) == 1


@pytest.mark.django_db
def test_real_model_is_told_which_kind_of_miss(api_client, user, chat_session, add_document, fake_openai, settings):
    settings.EMBEDDING_BACKENDS = {}  # lexical only: a fake embedding finds every passage "similar"
    ask(api_client, chat_session, "Where does photosynthesis happen?")
    assert fake_openai.requests[-1][1]["messages"][-2]["content"] == NO_MATERIAL_NOTE
    add_document(user=user, title="Biology notes", content=PHOTOSYNTHESIS)
    ask(api_client, chat_session, "Who won the 1998 World Cup?")
    assert fake_openai.requests[-1][1]["messages"][-2]["content"] == NO_MATCH_NOTE


@pytest.mark.django_db(transaction=True)
async def test_streamed_markers_split_across_pieces_are_parsed(user, chat_session, add_document, fake_openai):
    await database_sync_to_async(add_document)(user=user, title="Biology notes", content=PHOTOSYNTHESIS)
    await database_sync_to_async(add_document)(user=user, title="Cell division", content=MITOSIS)
    fake_openai.push(pieces=["Mitosis makes two nuclei [", "2", "]. Light is absorbed by chlorophyll [1", "]."])
    communicator = await connect(user)
    partials, final = await converse(communicator, {"message": "How do cells divide by mitosis and absorb light?",
                                                    "session_id": str(chat_session.pk)})
    await communicator.disconnect()
    assert [p["text"] for p in partials if p["type"] == "partial"][:2] == ["Mitosis makes two nuclei [", "2"]
    assert [c["marker"] for c in final["citations"]] == [2, 1]
    stored = await database_sync_to_async(Message.objects.get)(pk=final["message_id"])
    assert [c["marker"] for c in stored.context_used["citations"]] == [2, 1]
