"""Honest scope (issue 13 item 7): a named topic with no matching material is a 422 NO_MATERIAL
naming it, with nothing written; fewer items than asked are reported with the reason."""

from __future__ import annotations

import pytest

from tutorhub.assessments.models import Assessment, Flashcard, Quiz

URL = "/api/v1/assessments/"
pytestmark = pytest.mark.django_db


def _assessment(client, **fields):
    response = client.post(URL, {"title": "Revision", **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _nothing_written(user):
    assert not Flashcard.objects.filter(user=user).exists()
    assert not Quiz.objects.filter(owner=user).exists()


def test_topic_without_material_is_no_material_naming_it(api_client, user, material):
    assessment_id = _assessment(api_client)
    response = api_client.post(f"{URL}{assessment_id}/generate_content/",
                               {"topic": "Calculus Derivatives", "flashcard_count": 5, "quiz_questions": 5}, format="json")
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["error_code"] == "NO_MATERIAL"
    assert '"Calculus Derivatives"' in body["detail"]
    _nothing_written(user)
    assert Assessment.objects.get(pk=assessment_id).status == "failed"


def test_topic_outside_the_named_documents_is_no_material(api_client, user, material):
    assessment_id = _assessment(api_client)
    response = api_client.post(f"{URL}{assessment_id}/generate_content/", {
        "topic": "Calculus Derivatives", "document_ids": [str(material[0].pk)], "flashcard_count": 3, "quiz_questions": 0,
    }, format="json")
    assert response.status_code == 422 and response.json()["error_code"] == "NO_MATERIAL"
    _nothing_written(user)


def test_topic_words_match_inflections_and_ignore_item_words(api_client, user, material):
    # "Fraction quiz": "quiz" names the item, "fraction" matches the material's "fractions".
    assessment_id = _assessment(api_client)
    response = api_client.post(f"{URL}{assessment_id}/generate_content/",
                               {"topic": "Fraction quiz", "flashcard_count": 2, "quiz_questions": 2}, format="json")
    assert response.status_code == 200, response.content


def test_seed000_topic_without_material_names_it(api_client, user, material):
    response = api_client.post("/api/quiz/generate/", {"subject": "Maths", "topic": "Calculus Derivatives"}, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["error_code"] == "NO_MATERIAL" and "Calculus Derivatives" in response.json()["detail"]
    _nothing_written(user)


def test_shortfall_is_reported_with_counts_and_reason(api_client, user, material, settings):
    settings.ASSESSMENT_SYNC_GENERATION_LIMIT = 100  # answer in the response, not from a background run
    assessment_id = _assessment(api_client)
    response = api_client.post(f"{URL}{assessment_id}/generate_content/",
                               {"topic": "Photosynthesis", "flashcard_count": 60, "quiz_questions": 40}, format="json")
    assert response.status_code == 200, response.content
    content = response.json()["generated_content"]
    cards, quiz = content["flashcards"], content["quiz"]
    assert cards["requested"] == 60 and cards["generated"] == cards["count"] == len(cards["flashcards"]) < 60
    assert "definitions" in cards["shortfall_reason"] and str(cards["generated"]) in cards["shortfall_reason"]
    assert quiz["requested"] == 40 and quiz["generated"] == quiz["question_count"] < 40
    assert quiz["shortfall_reason"]
    assert Flashcard.objects.filter(user=user).count() == cards["generated"]


def test_no_shortfall_when_everything_asked_was_made(api_client, user, material):
    assessment_id = _assessment(api_client)
    response = api_client.post(f"{URL}{assessment_id}/generate_content/",
                               {"topic": "Photosynthesis", "flashcard_count": 2, "quiz_questions": 2}, format="json")
    cards = response.json()["generated_content"]["flashcards"]
    assert (cards["requested"], cards["generated"], cards["shortfall_reason"]) == (2, 2, None)


def test_seed000_quiz_reports_its_counts(api_client, user, material):
    response = api_client.post("/api/quiz/generate/", {"subject": "Biology", "topic": "Photosynthesis", "count": 30},
                               format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["requested"] == 30 and body["generated"] == len(body["questions"]) < 30
    assert body["shortfall_reason"]
