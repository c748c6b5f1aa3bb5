"""The offline generator's rules, called through the LLM interface like a model."""

from __future__ import annotations

import json

from tests.assessments.material import FRACTIONS, PHOTOSYNTHESIS
from tutorhub.ai.backends.offline import OfflineLLM

PASSAGES = [{"ref": 0, "text": PHOTOSYNTHESIS}, {"ref": 1, "text": FRACTIONS}]


def complete(task, **context):
    completion = OfflineLLM().complete([{"role": "user", "content": "x"}], task=task, context=context)
    assert completion.model == f"tutorhub-offline-{task}"
    return json.loads(completion.text)


def test_definitions_become_flashcards_with_their_source():
    cards = complete("flashcards", passages=PASSAGES, count=20)["flashcards"]
    by_question = {c["question"]: c for c in cards}
    assert by_question["What is Chlorophyll?"]["answer"] == "A green pigment that absorbs light energy in the chloroplasts"
    assert by_question["What is Respiration?"]["source"] == 0
    assert by_question["What is numerator?"]["source"] == 1
    assert "What are Stomata?" in by_question
    # No pronoun subjects ("It is ...") or instructions become cards.
    assert not any(q.startswith(("What is It", "What is To")) for q in by_question)


def test_flashcards_fall_back_to_cloze_and_respect_count():
    cards = complete("flashcards", passages=[{"ref": 0, "text": PHOTOSYNTHESIS}], count=8)["flashcards"]
    assert len(cards) == 8
    cloze = [c for c in cards if c["question"].startswith("Fill in the blank")]
    assert cloze and all("_____" in c["question"] and c["answer"].lower() in c["explanation"].lower() for c in cloze)


def test_quiz_questions_have_distractors_from_the_same_material():
    data = complete("quiz_questions", passages=[{"ref": 0, "text": PHOTOSYNTHESIS}], count=10, topic="Photosynthesis")
    assert data["title"] == "Photosynthesis Quiz"
    questions = data["questions"]
    assert len(questions) == 10
    text = PHOTOSYNTHESIS.lower()
    for q in questions:
        assert q["correct_answer"] in q["options"]
        assert len(set(q["options"])) == len(q["options"]) >= 2
        if q["question_type"] == "multiple_choice":
            for option in q["options"]:  # every option is taken from the material itself
                assert option.lower().rstrip(".") in text
    blanks = [q for q in questions if q["question_text"].startswith("Fill in the blank")]
    assert blanks and all("_____" in q["question_text"] for q in blanks)


def test_quiz_is_deterministic_and_empty_without_material():
    one = complete("quiz_questions", passages=PASSAGES, count=6, topic="x")
    two = complete("quiz_questions", passages=PASSAGES, count=6, topic="x")
    assert one == two
    assert complete("quiz_questions", passages=[], count=5, topic="Fractions")["questions"] == []


def test_homework_feedback_rewards_relevant_developed_answers():
    good = (
        "Photosynthesis is how green plants make glucose from carbon dioxide and water using sunlight. "
        "Chlorophyll in the chloroplasts absorbs light energy. Carbon dioxide enters through the stomata. "
        "The light reactions in the thylakoid membranes release oxygen, and the Calvin cycle builds sugars "
        "in the stroma. Respiration later releases the energy stored in glucose in every living cell. "
    ) * 2
    weak = "Plants are green and nice. I like plants."
    passages = [{"ref": 0, "text": PHOTOSYNTHESIS}]
    high = complete("homework_feedback", submission=good, passages=passages, topic="Photosynthesis")
    low = complete("homework_feedback", submission=weak, passages=passages, topic="Photosynthesis")
    assert high["score"] > 70 > low["score"]
    assert high["sources"] == [0]
    assert {r["criterion"] for r in high["rubric"]} == {
        "Relevance to your material", "Coverage of key concepts", "Development"
    }
    assert low["missing_concepts"] and low["improvements"]
    assert sum(r["score"] for r in low["rubric"]) * 100 / sum(r["max_score"] for r in low["rubric"]) == \
        __import__("pytest").approx(low["score"], abs=0.1)
