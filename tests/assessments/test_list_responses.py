"""Flashcard lists and quiz questions read what an item's `source` shows of its chunk and document
as columns of the item's row (issue 17), and answer exactly what the serializers make of whole
rows (the chunk and document read as instances), for items with and without a source."""

from __future__ import annotations

import json

import pytest
from django.db.models import Prefetch
from rest_framework.renderers import JSONRenderer

from benchmarks.api_data import seed
from tests.conftest import client_for
from tests.core.test_query_counts import capture
from tutorhub.assessments.models import Flashcard, Option, Question, Quiz
from tutorhub.assessments.selectors import mastery_level_expression
from tutorhub.assessments.serializers import FlashcardSerializer, QuestionAuthorSerializer


@pytest.fixture
def data():
    data = seed(documents=2, paragraphs=8, chunks_per_document=3, cards=4, quizzes=1, sessions=1, pairs=1,
                notifications=1, groups=1, peers=1, prefix="cards")
    Flashcard.objects.create(user=data["user"], question="Sourceless?", answer="Yes.")
    quiz = Quiz.objects.get(owner=data["user"])
    Question.objects.create(quiz=quiz, question_text="Sourceless?", order=9)
    return data


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
    assert len(results) == 5 and [card["source"] for card in results].count(None) == 1
    assert all(card["source"]["document_title"].startswith("Chapter ") for card in results if card["source"])


@pytest.mark.django_db
def test_quiz_questions_equal_the_serializer_over_whole_rows(data):
    user = data["user"]
    quiz = Quiz.objects.get(owner=user)
    questions = quiz.questions.select_related("source_chunk__document").prefetch_related(
        Prefetch("options", queryset=Option.objects.order_by("order"))
    )
    expected = json.loads(JSONRenderer().render(QuestionAuthorSerializer(questions, many=True).data))
    response = client_for(user).get(f"/api/v1/assessments/quizzes/{quiz.pk}/questions/")
    assert response.status_code == 200
    assert response.json() == expected
    assert len(expected) == 6 and [q["source"] is None for q in expected].count(True) == 1


@pytest.mark.django_db
def test_flashcard_page_reads_only_the_source_columns_it_shows(data):
    statements = capture(client_for(data["user"]), "/api/v1/assessments/flashcards/")
    page = [sql for sql in statements if 'FROM "assessments_flashcard"' in sql and "COUNT(" not in sql]
    assert len(page) == 1, statements
    for column in ("summary", "topics", "key_concepts", "token_count", "extracted_text"):
        assert f'."{column}"' not in page[0], column
