"""The AI side of assessments: gathering source material and asking the LLM for validated JSON.

Every generator here speaks one contract: the model gets numbered passages ([0], [1], ...) and
returns a JSON object whose items name the passage they came from (`source`); the reply is
validated with a DRF serializer, retried once with the errors shown to the model, and rejected
otherwise. Nothing is stored from a reply that did not validate whole.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework import serializers

from tutorhub.ai import ProviderError, llm
from tutorhub.billing.services import ai_spend_scope
from tutorhub.core.exceptions import ServiceError, ServiceUnavailable
from tutorhub.core.text import query_terms
from tutorhub.knowledge import retrieval
from tutorhub.knowledge import selectors as knowledge_selectors

logger = logging.getLogger(__name__)

MAX_MATERIAL_CHARS = 24_000  # keeps a prompt well inside small local models' context windows
FREE_CONTENT_MIN_WORDS = 25  # shorter `content` is an instruction ("focus on ..."), not material


@dataclass
class Material:
    """One numbered passage shown to the model, and where it came from."""

    ref: int
    text: str
    chunk_id: Any = None
    document_id: Any = None
    document_title: str = ""
    page: int | None = None
    section: str = ""

    def source(self) -> dict[str, Any] | None:
        if self.chunk_id is None:
            return None
        return {
            "chunk_id": str(self.chunk_id),
            "document_id": str(self.document_id) if self.document_id else None,
            "document_title": self.document_title,
            "page": self.page,
            "section": self.section,
        }

    def for_model(self) -> dict[str, Any]:
        return {"ref": self.ref, "text": self.text, "title": self.document_title, "page": self.page, "section": self.section}


# Words that name the kind of study item rather than its subject: "Photosynthesis quiz" is about
# photosynthesis, and "Week 3 review" names no subject to check the material against.
_TOPIC_NOISE = frozenset(
    """quiz quizzes test tests exam exams review revision notes note chapter chapters unit units week weeks lesson
    lessons lecture lectures module modules part parts introduction intro basics overview practice homework
    flashcards flashcard questions question assessment midterm final course topic topics study guide""".split()
)


_WORDS = re.compile(r"[^\W_]+")


def _word_stem(word: str) -> str:
    # Inflections share a stem: "derivatives"/"derivative", "integrals"/"integral", "cells"/"cell".
    return word[:6] if len(word) > 6 else word.removesuffix("s")


def topic_terms(topic: str) -> list[str]:
    """The words of a topic that name its subject (see _TOPIC_NOISE), lowercase."""
    return [t for t in query_terms(topic) if t not in _TOPIC_NOISE and not t.isdigit() and len(t) > 2]


def material_matches_topic(topic: str, material: list[Material]) -> bool:
    """Does any passage (its text, section or document title) mention a subject word of the topic?
    A topic with no subject words matches anything: there is nothing to check."""
    wanted = {_word_stem(t) for t in topic_terms(topic)}
    if not wanted:
        return True
    for item in material:
        present = {_word_stem(w) for w in _WORDS.findall(f"{item.document_title} {item.section} {item.text}".lower())}
        if wanted & present:
            return True
    return False


def material_gather(
    *,
    user,
    query: str,
    content: str = "",
    document_ids: list | None = None,
    course_ids: list | None = None,
    k: int = 8,
) -> list[Material]:
    """Passages to generate from: the named documents' chunks when given, else the passages the
    student's material retrieves for `query`; long free `content` is material too.
    Raises ValidationError when a named document is unknown to the user or has no text yet."""
    items: list[Material] = []
    if document_ids:
        chunks = list(knowledge_selectors.chunks_for_documents(user=user, document_ids=document_ids))
        found = {str(c.document_id) for c in chunks}
        missing = [str(d) for d in document_ids if str(d) not in found]
        if missing:
            raise serializers.ValidationError(
                {"document_ids": [f"Unknown document, or its text is not extracted yet: {', '.join(missing)}."]}
            )
        if sum(len(c.text) for c in chunks) <= MAX_MATERIAL_CHARS or not query.strip():
            for chunk in chunks:
                items.append(Material(
                    ref=len(items), text=chunk.text, chunk_id=chunk.pk, document_id=chunk.document_id,
                    document_title=chunk.document.name, page=chunk.page, section=chunk.section or "",
                ))
    if query.strip() and not items:
        # Too much text to show whole (or no documents named): the passages that best match the topic.
        named = bool(document_ids)
        for passage in retrieval.retrieve(
            user=user, query=query, k=k * 3 if named else k, course_ids=None if named else course_ids,
            document_ids=document_ids or None,
        ):
            items.append(Material(
                ref=len(items), text=passage.text, chunk_id=passage.chunk_id, document_id=passage.document_id,
                document_title=passage.document_title, page=passage.page, section=passage.section or "",
            ))
    if len(content.split()) >= FREE_CONTENT_MIN_WORDS:
        items.append(Material(ref=len(items), text=content, document_title="Provided content"))
    kept, size = [], 0
    for item in items:
        size += len(item.text)
        if size > MAX_MATERIAL_CHARS and kept:
            break
        kept.append(item)
    return kept


def passages_prompt(material: list[Material]) -> str:
    if not material:
        return "(no course material was found; rely on well-established knowledge of the topic)"
    lines = []
    for m in material:
        where = ", ".join(x for x in (m.document_title, f"p. {m.page}" if m.page else "", m.section) if x)
        lines.append(f"[{m.ref}] ({where})\n{m.text}")
    return "\n\n".join(lines)


def _parse(text: str) -> Any:
    text = (text or "").strip()
    if text.startswith("```"):  # models often fence JSON even in JSON mode
        text = text.strip("`").removeprefix("json").strip()
    return json.loads(text)


def generate_structured(
    *,
    user,
    task: str,
    messages: list[dict[str, str]],
    context: dict[str, Any],
    serializer_class: type[serializers.Serializer],
    expected_output_tokens: int = 1500,
) -> tuple[dict[str, Any], str]:
    """Ask the default LLM for a JSON object and validate it with `serializer_class`.

    Returns (validated data, model name). Raises ServiceUnavailable when the model cannot be
    reached or times out, and ServiceError(AI_OUTPUT_INVALID, 502) when it answers malformed
    JSON twice - the second try shows the model its errors.
    """
    timeout = getattr(settings, "AI_GENERATION_TIMEOUT", 120)
    messages = list(messages)
    with ai_spend_scope(user=user, feature="generation", messages=messages, max_output_tokens=expected_output_tokens,
                        backend=llm["default"]):
        for attempt in range(2):
            try:
                completion = llm["default"].complete(
                    messages, task=task, context=context, json_mode=True, timeout=timeout, temperature=0.3
                )
            except ProviderError as exc:
                logger.warning("generation %s failed: %s", task, exc)
                raise ServiceUnavailable(
                    f"The AI model could not be reached or did not answer in time ({exc}). Nothing was generated; try again.",
                    error_code="AI_UNAVAILABLE",
                ) from exc
            try:
                data = _parse(completion.text)
                errors = None if isinstance(data, dict) else {"non_field_errors": ["Expected a JSON object."]}
            except ValueError:
                data, errors = None, {"non_field_errors": ["The reply was not valid JSON."]}
            if errors is None:
                serializer = serializer_class(data=data)
                if serializer.is_valid():
                    return serializer.validated_data, completion.model
                errors = serializer.errors
            logger.info("generation %s: invalid model output (try %s): %s", task, attempt + 1, errors)
            messages += [
                {"role": "assistant", "content": completion.text[:4000]},
                {"role": "user", "content": "Your reply did not match the required JSON format: "
                 f"{json.dumps(errors)[:1500]}. Reply again with only the corrected JSON object."},
            ]
    raise ServiceError(
        "The AI model returned malformed output twice; nothing was stored. Try again.",
        error_code="AI_OUTPUT_INVALID",
        status_code=502,
    )


# --- output contracts -------------------------------------------------------------------------
DIFFICULTIES = ["easy", "medium", "hard"]


class GeneratedFlashcard(serializers.Serializer):
    question = serializers.CharField(max_length=2000)
    answer = serializers.CharField(max_length=4000)
    explanation = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    difficulty_level = serializers.ChoiceField(choices=DIFFICULTIES, required=False, default="medium")
    confidence = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True, default=None)
    source = serializers.IntegerField(required=False, allow_null=True, default=None)


class FlashcardsOutput(serializers.Serializer):
    flashcards = GeneratedFlashcard(many=True)
    shortfall_reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class GeneratedQuestion(serializers.Serializer):
    question_text = serializers.CharField(max_length=2000)
    question_type = serializers.ChoiceField(
        choices=["multiple_choice", "true_false", "short_answer"], required=False, default="multiple_choice"
    )
    options = serializers.ListField(child=serializers.CharField(max_length=500), required=False, default=list, max_length=8)
    correct_answer = serializers.CharField(max_length=500)
    explanation = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    concept = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    difficulty_level = serializers.ChoiceField(choices=DIFFICULTIES, required=False, default="medium")
    confidence = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True, default=None)
    points = serializers.IntegerField(min_value=1, max_value=100, required=False, default=1)
    source = serializers.IntegerField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        kind, options = attrs["question_type"], attrs["options"]
        if kind == "true_false":
            attrs["options"] = options = ["True", "False"]
            attrs["correct_answer"] = attrs["correct_answer"].strip().capitalize()
        if kind != "short_answer":
            if len(options) < 2 or len({o.strip().lower() for o in options}) != len(options):
                raise serializers.ValidationError("A choice question needs at least two distinct options.")
            if attrs["correct_answer"].strip().lower() not in {o.strip().lower() for o in options}:
                raise serializers.ValidationError("correct_answer must be one of the options.")
        return attrs


class QuizOutput(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    questions = GeneratedQuestion(many=True)
    shortfall_reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class HomeworkFeedbackOutput(serializers.Serializer):
    score = serializers.FloatField(min_value=0, max_value=100)
    feedback = serializers.CharField(max_length=8000)
    strengths = serializers.ListField(child=serializers.CharField(max_length=1000), required=False, default=list)
    improvements = serializers.ListField(child=serializers.CharField(max_length=1000), required=False, default=list)
    missing_concepts = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)
    rubric = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    sources = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)


FLASHCARDS_SYSTEM = (
    "You write study flashcards from course material. Use only facts stated in the passages. "
    'Reply with one JSON object: {"flashcards": [{"question": str, "answer": str, "explanation": str, '
    '"difficulty_level": "easy"|"medium"|"hard", "confidence": number 0-1, '
    '"source": the number of the passage the card is based on}], "shortfall_reason": why there are fewer '
    'cards than asked, or ""}. Write fewer cards rather than invent facts or repeat a card.'
)
QUIZ_SYSTEM = (
    "You write quiz questions from course material. Use only facts stated in the passages; wrong options "
    "must be plausible and taken from the same material. Reply with one JSON object: "
    '{"title": str, "questions": [{"question_text": str, "question_type": "multiple_choice"|"true_false"|'
    '"short_answer", "options": [str], "correct_answer": str (one of the options), "explanation": str, '
    '"concept": the concept tested, "difficulty_level": "easy"|"medium"|"hard", "confidence": number 0-1, '
    '"source": the number of the passage the question is based on}], "shortfall_reason": why there are '
    'fewer questions than asked, or ""}. Write fewer questions rather than invent facts or repeat one.'
)


def _items_generate(
    *, user, task: str, system: str, noun: str, serializer_class, tokens_per_item: int,
    topic: str, instructions: str, material: list[Material], count: int, difficulty_level: str | None,
) -> tuple[dict, str]:
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": (
            f"Topic: {topic or '(see passages)'}\nInstructions: {instructions or '-'}\n"
            f"Write {count} {noun}{f' of {difficulty_level} difficulty' if difficulty_level else ''}.\n\n"
            f"Passages:\n{passages_prompt(material)}"
        )},
    ]
    context = {"topic": topic, "count": count, "difficulty_level": difficulty_level,
               "passages": [m.for_model() for m in material]}
    return generate_structured(
        user=user, task=task, messages=messages, context=context, serializer_class=serializer_class,
        expected_output_tokens=tokens_per_item * count,
    )


def flashcards_generate(*, user, count: int, **kwargs) -> tuple[dict, str]:
    """{"flashcards", "shortfall_reason"} from numbered passages (kwargs: topic, instructions,
    material, difficulty_level)."""
    data, model = _items_generate(
        user=user, task="flashcards", system=FLASHCARDS_SYSTEM, noun="flashcards", serializer_class=FlashcardsOutput,
        tokens_per_item=80, count=count, **kwargs,
    )
    data["flashcards"] = data["flashcards"][:count]
    return data, model


def quiz_questions_generate(*, user, count: int, **kwargs) -> tuple[dict, str]:
    """{"title", "questions", "shortfall_reason"} from numbered passages (same kwargs as flashcards_generate)."""
    data, model = _items_generate(
        user=user, task="quiz_questions", system=QUIZ_SYSTEM, noun="questions", serializer_class=QuizOutput,
        tokens_per_item=120, count=count, **kwargs,
    )
    data["questions"] = data["questions"][:count]
    return data, model


def homework_feedback_generate(*, user, submission: str, topic: str, material: list[Material]) -> tuple[dict, str]:
    messages = [
        {"role": "system", "content": (
            "You are a teacher marking a student's homework against their course material. Be specific and kind. "
            'Reply with one JSON object: {"score": number 0-100, "feedback": str, "strengths": [str], '
            '"improvements": [str], "missing_concepts": [str], "rubric": [{"criterion": str, "score": number, '
            '"max_score": number, "comment": str}], "sources": [numbers of the passages you compared with]}.'
        )},
        {"role": "user", "content": (
            f"Topic: {topic or '-'}\n\nCourse material:\n{passages_prompt(material)}\n\nHomework:\n{submission}"
        )},
    ]
    context = {"topic": topic, "submission": submission, "passages": [m.for_model() for m in material]}
    return generate_structured(
        user=user, task="homework_feedback", messages=messages, context=context,
        serializer_class=HomeworkFeedbackOutput, expected_output_tokens=600,
    )
