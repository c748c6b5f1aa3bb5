"""POST /api/v1/assessments/{id}/generate_content/ with the offline backend and the fake LLM server."""

from __future__ import annotations

import json

import pytest

from tests.assessments.material import FRACTIONS, PHOTOSYNTHESIS
from tests.conftest import client_for
from tutorhub.assessments.models import Assessment, Flashcard, Question, Quiz

URL = "/api/v1/assessments/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def assessment(api_client):
    response = api_client.post(URL, {"title": "Biology revision", "topic": "Photosynthesis"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def generate(client, assessment_id, **body):
    return client.post(f"{URL}{assessment_id}/generate_content/", body, format="json")


def test_assessment_crud_and_isolation(api_client, other_user, assessment):
    assert api_client.get(URL).json()["count"] == 1
    assert api_client.get(f"{URL}{assessment['id']}/").json()["status"] == "draft"
    other = client_for(other_user)
    assert other.get(f"{URL}{assessment['id']}/").status_code == 404
    assert generate(other, assessment["id"], topic="x").status_code == 404
    assert api_client.delete(f"{URL}{assessment['id']}/").status_code == 204


def test_offline_generation_from_retrieved_material(api_client, user, material, assessment):
    response = generate(api_client, assessment["id"], topic="Photosynthesis", content="Focus on chlorophyll",
                        flashcard_count=4, quiz_questions=4, difficulty_level="medium")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "completed" and data["assessment_id"] == assessment["id"]
    cards = data["generated_content"]["flashcards"]
    assert cards["count"] == 4 == len(cards["flashcards"]) and 0 < cards["confidence"] <= 1
    for card in cards["flashcards"]:
        assert card["source"]["document_title"] == "Plant biology notes"
        assert card["source"]["chunk_id"]
    quiz = data["generated_content"]["quiz"]
    assert quiz["question_count"] == 4 and quiz["title"] == "Photosynthesis Quiz"
    for q in quiz["questions"]:
        assert q["correct_answer"] in q["options"] and q["source"]["document_title"] == "Plant biology notes"
    meta = data["agent_metadata"]
    assert meta["flashcard_generation"]["agent_used"] == "tutorhub-offline-flashcards"
    assert meta["quiz_generation"]["agent_used"] == "tutorhub-offline-quiz_questions"
    # Stored, owned by the student, with their source chunk kept.
    stored = Flashcard.objects.filter(user=user, assessment_id=assessment["id"])
    assert stored.count() == 4 and all(c.source_chunk_id for c in stored)
    quiz_obj = Quiz.objects.get(pk=quiz["quiz_id"])
    assert quiz_obj.owner == user and quiz_obj.questions.count() == 4 and quiz_obj.is_generated
    # Generated cards appear in the flashcard API with their source document.
    listed = api_client.get(f"{URL}flashcards/?tags=Photosynthesis").json()["results"]
    assert len(listed) == 4 and listed[0]["source"]["document_title"] == "Plant biology notes"
    detail = api_client.get(f"{URL}{assessment['id']}/").json()
    assert detail["status"] == "completed" and detail["progress_percentage"] == 100


def test_generation_from_named_documents(api_client, user, material, assessment):
    fractions_doc = material[1]
    response = generate(api_client, assessment["id"], topic="Fractions", document_ids=[str(fractions_doc.pk)],
                        flashcard_count=3, quiz_questions=2)
    assert response.status_code == 200, response.content
    sources = {c["source"]["document_id"] for c in response.json()["generated_content"]["flashcards"]["flashcards"]}
    assert sources == {str(fractions_doc.pk)}


def test_unknown_or_foreign_document_is_rejected(api_client, other_user, assessment):
    from tutorhub.knowledge.services import resource_add

    foreign = resource_add(user=other_user, title="Secret", content=FRACTIONS)
    response = generate(api_client, assessment["id"], document_ids=[str(foreign.pk)], flashcard_count=2)
    assert response.status_code == 400 and "document_ids" in response.json()["details"]
    assert Flashcard.objects.count() == 0


def test_no_material_gives_clear_error(api_client, assessment):
    response = generate(api_client, assessment["id"], topic="Quantum chromodynamics", flashcard_count=2, quiz_questions=2)
    assert response.status_code == 422 and response.json()["error_code"] == "NO_MATERIAL"
    assert api_client.get(f"{URL}{assessment['id']}/").json()["status"] == "failed"
    # The next request works once material exists.
    from tutorhub.knowledge.services import resource_add

    resource_add(user=Assessment.objects.get().owner, title="QCD", content=PHOTOSYNTHESIS)
    assert generate(api_client, assessment["id"], topic="Photosynthesis", flashcard_count=2, quiz_questions=0).status_code == 200


@pytest.mark.parametrize("body", [
    {"flashcard_count": 0, "quiz_questions": 0},
    {"flashcard_count": 1000},
    {"document_ids": ["nope"]},
    {"difficulty_level": "impossible"},
    {"use_adaptive": "sometimes"},
])
def test_bad_generation_requests(api_client, assessment, body):
    assert generate(api_client, assessment["id"], **body).status_code == 400


def test_large_run_goes_to_background_with_progress(api_client, material, assessment, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = generate(api_client, assessment["id"], topic="Photosynthesis", flashcard_count=15, quiz_questions=15)
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "processing"
    detail = api_client.get(f"{URL}{assessment['id']}/").json()
    assert detail["status"] == "completed" and detail["progress_percentage"] == 100
    assert detail["result"]["generated_content"]["flashcards"]["count"] > 0


def test_concurrent_run_refused(api_client, assessment):
    Assessment.objects.filter(pk=assessment["id"]).update(status="processing")
    response = generate(api_client, assessment["id"], topic="x")
    assert response.status_code == 409 and response.json()["error_code"] == "GENERATION_RUNNING"


def test_adaptive_uses_learner_history(api_client, user, material, assessment):
    from tutorhub.learning.services import learner_event_record

    for _ in range(3):
        learner_event_record(user=user, kind="quiz_answer", topic="Photosynthesis", score=1.0)
        learner_event_record(user=user, kind="quiz_answer", topic="Fractions", score=0.0)
    data = generate(api_client, assessment["id"], topic="Photosynthesis", use_adaptive=True, flashcard_count=2,
                    quiz_questions=2, difficulty_level="medium").json()
    adaptive = data["agent_metadata"]["quiz_generation"]["adaptive_adjustments"]
    assert adaptive["difficulty_used"] == "hard" and adaptive["difficulty_increased"] is True
    assert adaptive["focus_areas"] == ["fractions"]


# --- the real client against the fake OpenAI-compatible server -------------------------------
def chat_requests(server) -> list[dict]:
    return [body for path, body in server.requests if path.endswith("/chat/completions")]


GOOD_CARDS = {"flashcards": [
    {"question": "What absorbs light?", "answer": "Chlorophyll", "explanation": "", "difficulty_level": "easy",
     "confidence": 0.9, "source": 0},
    {"question": "Where does photosynthesis happen?", "answer": "In chloroplasts", "difficulty_level": "medium",
     "confidence": 0.8, "source": 99},
]}
GOOD_QUIZ = {"title": "Plants", "questions": [
    {"question_text": "What absorbs light?", "question_type": "multiple_choice",
     "options": ["Chlorophyll", "Stroma", "Glucose"], "correct_answer": "Chlorophyll", "concept": "Chlorophyll",
     "source": 0},
    {"question_text": "Stomata are pores.", "question_type": "true_false", "correct_answer": "true"},
]}


def test_fake_llm_good_json(api_client, user, material, assessment, fake_openai):
    fake_openai.push(text=json.dumps(GOOD_CARDS))
    fake_openai.push(text="```json\n" + json.dumps(GOOD_QUIZ) + "\n```")
    response = generate(api_client, assessment["id"], topic="Photosynthesis", flashcard_count=2, quiz_questions=2)
    assert response.status_code == 200, response.content
    data = response.json()
    cards = data["generated_content"]["flashcards"]["flashcards"]
    assert [c["answer"] for c in cards] == ["Chlorophyll", "In chloroplasts"]
    assert cards[0]["source"]["document_title"] and cards[1]["source"] is None  # out-of-range source dropped
    assert data["agent_metadata"]["flashcard_generation"]["agent_used"] == "fake-gpt"
    tf = Question.objects.get(question_type="true_false")
    assert tf.options.get(is_correct=True).text == "True"
    request = chat_requests(fake_openai)[0]
    assert request["response_format"] == {"type": "json_object"}
    assert "Chlorophyll is a green pigment" in request["messages"][1]["content"]  # grounded in retrieved material


def test_fake_llm_malformed_json_is_retried_once(api_client, material, assessment, fake_openai):
    fake_openai.push(text="not json")
    fake_openai.push(text=json.dumps(GOOD_CARDS))
    response = generate(api_client, assessment["id"], topic="Photosynthesis", flashcard_count=2, quiz_questions=0)
    assert response.status_code == 200, response.content
    retry = chat_requests(fake_openai)[1]["messages"]
    assert "did not match the required JSON format" in retry[-1]["content"]


def test_fake_llm_malformed_twice_stores_nothing(api_client, material, assessment, fake_openai):
    fake_openai.push(text=json.dumps({"flashcards": [{"question": "only a question"}]}))
    fake_openai.push(text="still not json")
    response = generate(api_client, assessment["id"], topic="Photosynthesis", flashcard_count=2, quiz_questions=0)
    assert response.status_code == 502 and response.json()["error_code"] == "AI_OUTPUT_INVALID"
    assert Flashcard.objects.count() == 0
    # The quiz half is validated too: an answer that is not an option is rejected whole.
    bad_quiz = {"questions": [{"question_text": "q", "options": ["a", "b"], "correct_answer": "c"}]}
    fake_openai.push(text=json.dumps(GOOD_CARDS))
    fake_openai.push(text=json.dumps(bad_quiz))
    fake_openai.push(text=json.dumps(bad_quiz))
    response = generate(api_client, assessment["id"], topic="Photosynthesis", flashcard_count=2, quiz_questions=1)
    assert response.status_code == 502
    assert Flashcard.objects.count() == 0 and Quiz.objects.count() == 0


def test_fake_llm_timeout_then_recovers(api_client, material, assessment, fake_openai, settings):
    settings.AI_GENERATION_TIMEOUT = 0.5
    fake_openai.push(delay=3, text=json.dumps(GOOD_CARDS))
    response = generate(api_client, assessment["id"], topic="Photosynthesis", flashcard_count=2, quiz_questions=0)
    assert response.status_code == 503 and response.json()["error_code"] == "AI_UNAVAILABLE"
    assert "Traceback" not in response.content.decode()
    assert api_client.get(f"{URL}{assessment['id']}/").json()["status"] == "failed"
    fake_openai.push(text=json.dumps(GOOD_CARDS))
    response = generate(api_client, assessment["id"], topic="Photosynthesis", flashcard_count=2, quiz_questions=0)
    assert response.status_code == 200


def test_fake_llm_upstream_error(api_client, material, assessment, fake_openai):
    fake_openai.push(status=500)
    response = generate(api_client, assessment["id"], topic="Photosynthesis", flashcard_count=2, quiz_questions=0)
    assert response.status_code == 503


def test_generation_is_throttled(api_client, assessment, settings):
    settings.THROTTLING_ENABLED = True
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "ai_generation": "1/hour"}}
    from django.core.cache import cache

    cache.clear()
    generate(api_client, assessment["id"], flashcard_count=0, quiz_questions=0)
    response = generate(api_client, assessment["id"], flashcard_count=0, quiz_questions=0)
    assert response.status_code == 429


def test_large_named_documents_are_narrowed_by_retrieval(user, material, monkeypatch):
    from tutorhub.assessments.services import ai

    monkeypatch.setattr(ai, "MAX_MATERIAL_CHARS", 200)
    passages = ai.material_gather(user=user, query="numerator denominator", document_ids=[material[1].pk, material[0].pk])
    assert passages and passages[0].document_title == "Fractions notes"
    assert all(p.chunk_id for p in passages)


def test_assessment_list_query_count(api_client, user, django_assert_num_queries):
    for i in range(4):
        api_client.post(URL, {"title": f"A{i}"}, format="json")
    with django_assert_num_queries(3):
        assert api_client.get(URL).json()["count"] == 4
