"""The flashcard list joins only what a card's `source` shows of its chunk and document (issue 17)
and answers exactly what the serializer makes of whole rows."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from rest_framework.renderers import JSONRenderer

from benchmarks.api_data import seed
from tests.conftest import client_for
from tutorhub.assessments.models import Flashcard
from tutorhub.assessments.selectors import mastery_level_expression
from tutorhub.assessments.serializers import FlashcardSerializer


@pytest.fixture
def data():
    return seed(documents=2, paragraphs=8, chunks_per_document=3, cards=4, quizzes=1, sessions=1, pairs=1,
                notifications=1, groups=1, peers=1, prefix="cards")


@pytest.mark.django_db
def test_flashcard_list_equals_the_serializer_over_whole_rows(data):
    user = data["user"]
    cards = (Flashcard.objects.filter(user=user).select_related("source_chunk__document")
             .annotate(mastery_level=mastery_level_expression()))
    expected = json.loads(JSONRenderer().render(FlashcardSerializer(cards, many=True).data))
    response = client_for(user).get("/api/v1/assessments/flashcards/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert sorted(results, key=lambda card: card["id"]) == sorted(expected, key=lambda card: card["id"])
    assert all(card["source"]["document_title"].startswith("Chapter ") for card in results)


@pytest.mark.django_db
def test_flashcard_page_reads_only_the_source_columns_it_shows(data):
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert client_for(data["user"]).get("/api/v1/assessments/flashcards/").status_code == 200
    page = [sql for sql in statements if 'FROM "assessments_flashcard"' in sql and "COUNT(" not in sql]
    assert len(page) == 1, statements
    for column in ("summary", "topics", "key_concepts", "token_count", "extracted_text"):
        assert f'."{column}"' not in page[0], column
