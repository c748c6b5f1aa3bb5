"""Routes behind the chat and knowledge pages' new controls (issue 14 items 1-3): session search
(title and message text, server-side, paged), the cited passage, the document page."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.web.test_pages import XSS, make_exchange
from tutorhub.chat.models import ChatSession
from tutorhub.knowledge.models import Chunk, Document

pytestmark = pytest.mark.django_db


def test_session_search_matches_titles_and_message_text_of_my_chats_only(
    api_client, user, other_user, django_assert_num_queries
):
    by_title = ChatSession.objects.create(owner=user, title="Mitochondria revision")
    by_message = ChatSession.objects.create(owner=user, title="Cells")
    make_exchange(by_message, "Where is ATP made?", "In the MITOCHONDRIA, by respiration.")
    make_exchange(by_message, "And in plants?", "Also in mitochondria.")  # two hits, one result
    ChatSession.objects.create(owner=user, title="Algebra")
    theirs = ChatSession.objects.create(owner=other_user, title="mitochondria")
    make_exchange(theirs, "mitochondria?", "mitochondria.")

    with django_assert_num_queries(3) as captured:  # user, count, page
        response = api_client.get("/api/v1/chat/chats/", {"search": "mitochondria"})
    assert response.status_code == 200
    # The message text is matched in an EXISTS subquery (DRF's SearchFilter for a to-many field):
    # no join of the sessions with their messages, so no DISTINCT over whole session rows.
    page_sql = captured.captured_queries[-1]["sql"].upper()
    assert "EXISTS" in page_sql and "DISTINCT" not in page_sql
    assert response.data["count"] == 2
    assert {r["id"] for r in response.data["results"]} == {str(by_title.pk), str(by_message.pk)}
    assert {r["message_count"] for r in response.data["results"]} == {0, 4}  # not multiplied by the join

    first = api_client.get("/api/v1/chat/chats/", {"search": "mitochondria", "page_size": 1})
    assert first.data["count"] == 2 and len(first.data["results"]) == 1 and first.data["next"]
    second = api_client.get(first.data["next"])
    assert {first.data["results"][0]["id"], second.data["results"][0]["id"]} == {str(by_title.pk), str(by_message.pk)}

    assert api_client.get("/api/v1/chat/chats/", {"search": "photosynthesis"}).data["count"] == 0


@pytest.fixture
def chunk(user):
    document = Document.objects.create(owner=user, name="Cell notes", document_type="text", processing_status="completed",
                                       extracted_text="Mitochondria release energy.")
    return Chunk.objects.create(document=document, position=0, text="Mitochondria release energy.", page=3,
                                section="Respiration", heading_path="Cells › Respiration")


def test_a_cited_passage_with_its_document(user, chunk, django_assert_num_queries):
    client = Client()
    client.force_login(user)
    with django_assert_num_queries(3):  # session, user, chunk with its document
        response = client.get(f"/passages/{chunk.pk}/")
    assert response.status_code == 200
    assert response.json() == {
        "chunk_id": chunk.pk,
        "text": "Mitochondria release energy.",
        "page": 3,
        "section": "Respiration",
        "heading_path": "Cells › Respiration",
        "document_id": str(chunk.document_id),
        "document_name": "Cell notes",
        "document_url": f"/knowledge/documents/{chunk.document_id}/",
    }


def test_passages_of_documents_i_cannot_see_are_404(other_user, chunk):
    client = Client()
    client.force_login(other_user)
    response = client.get(f"/passages/{chunk.pk}/")
    assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_NOT_FOUND"
    assert client.get("/passages/999999/").status_code == 404
    assert Client().get(f"/passages/{chunk.pk}/").status_code in (401, 403)


def test_document_page_shows_the_extracted_text_as_text(user, other_user):
    document = Document.objects.create(owner=user, name=XSS, document_type="text", processing_status="completed",
                                       extracted_text=f"Intro\n{XSS}\nEnd", file_size_bytes=2048, page_count=2)
    client = Client()
    client.force_login(user)
    body = client.get(f"/knowledge/documents/{document.pk}/").content.decode()
    assert "<img src=x" not in body and "<script>alert" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "2.0\xa0KB" in body and "2 pages" in body
    client.force_login(other_user)
    assert client.get(f"/knowledge/documents/{document.pk}/").status_code == 404


def test_chat_page_states_the_message_limit_and_lists_no_chats_first(user):
    from tutorhub.chat.serializers import MAX_MESSAGE_CHARS

    client = Client()
    client.force_login(user)
    body = client.get("/").content.decode()
    assert f'data-max-chars="{MAX_MESSAGE_CHARS}"' in body
    assert 'maxlength="8000"' not in body  # a long paste is never cut silently
    assert body.index("No chats yet.") < body.index("data-session-list")
    assert "web/vendor/markdown-it.min.js" in body and "web/vendor/purify.min.js" in body
