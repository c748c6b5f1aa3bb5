"""Offline generation tasks: flashcards, quiz questions and homework feedback by rule.

Each handler reads the structured `context` its caller built the prompt from and returns the
JSON text a model would return under the same contract, so the caller validates both backends
the same way. Every item names the passage it came from (`source`: the passage's `ref`), and
that passage holds the item's answer.

- flashcards: definitional sentences ("X is a ...", "X refers to ...", "X: ...") become
  "What is X?" cards; when the material has too few, cloze cards blank a key phrase.
- quiz_questions: multiple choice from definitions and cloze sentences, with distractors taken
  from the other key phrases / definitions of the same material; true/false by swapping terms.
- homework_feedback: a rubric (relevance = similarity to the student's material, coverage of the
  material's key concepts, development) with feedback naming what is missing.

What makes an item one a teacher would keep (benchmarks/generation.py measures each):
- built from one sentence of the body text: headings and list labels are never part of it;
- a cloze never shows its answer (nor a word of it) elsewhere in the question;
- distractors are key phrases of the same material shaped like the answer (word count, name or
  common noun, number or not), distinct from each other and the answer, never a repeated word;
  an item without three such distractors is not made;
- when fewer items than asked can be made, `shortfall_reason` says why.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tutorhub.ai.backends.offline import offline_task
from tutorhub.ai.backends.offline.keyphrases import (
    STOPWORDS,
    is_noun_word,
    keyphrases,
    phrase_key,
    split_sentences,
)

PRONOUN_SUBJECTS = frozenset("it this that they he she there these those we you i which what who its".split())

DEFINITION_PATTERNS = [
    # (regex, confidence) - explicit definitional verbs are surer than a bare copula.
    (re.compile(r"^(?P<term>[^,;:]{2,60}?)\s+(?:is|are)\s+defined\s+as\s+(?P<definition>.+)$", re.I), 0.92),
    (re.compile(r"^(?P<term>[^,;:]{2,60}?)\s+(?:refers?|refer)\s+to\s+(?P<definition>.+)$", re.I), 0.9),
    (re.compile(r"^(?P<term>[^,;:]{2,60}?)\s+means\s+(?P<definition>.+)$", re.I), 0.85),
    (re.compile(r"^(?P<term>[^,;:]{2,60}?)\s+(?P<verb>is|are)\s+(?P<definition>(?:a|an|the)\s+.+)$", re.I), 0.8),
    (re.compile(r"^(?P<term>[A-Z][\w \-']{1,50}):\s+(?P<definition>.{10,})$"), 0.85),
    # Plural subjects often skip the article ("Stomata are small pores ...").
    (re.compile(r"^(?P<term>\w+(?:\s\w+)?)\s+(?P<verb>are)\s+(?P<definition>\w+\s+\w+\s+.+)$", re.I), 0.7),
]
WORD = re.compile(r"[A-Za-z][A-Za-z\-']+|\d+(?:\.\d+)?")
MIN_DISTRACTORS = 3


@dataclass
class Definition:
    term: str
    definition: str
    sentence: str
    ref: Any
    confidence: float
    plural: bool = False


def _rng(*parts: Any) -> random.Random:
    """Deterministic shuffling: the same material always yields the same questions."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text or "")]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 2 and not w.isdigit()]


def _is_heading_line(line: str) -> bool:
    # A line that does not end like a sentence and is short is a heading, label or list caption.
    return not line.rstrip().endswith((".", "!", "?", ":", ";", '"', ")")) and len(line.split()) <= 12


def _strip_headings(sentence: str, headings: list[str]) -> str:
    """A sentence with a heading glued to its front (text extracted without structure, or a chunk
    that starts with its heading path) loses the heading: "Overview Photosynthesis is ..."."""
    for heading in headings:
        if heading and sentence.startswith(heading + " ") and sentence[len(heading) + 1 : len(heading) + 2].isupper():
            return sentence[len(heading) + 1 :]
    return sentence


def sentences(text: str, headings: list[str] | None = None) -> list[str]:
    """The body sentences of a passage: one per line break or sentence end, headings dropped."""
    found = []
    for line in (text or "").splitlines():
        line = " ".join(line.split())
        if not line or _is_heading_line(line):
            continue
        for part in split_sentences(line):
            # "Term: definition" glossaries keep one entry per line in the source, not per sentence.
            for piece in re.split(r"\s(?=[A-Z][\w \-']{1,40}:\s)", part):
                piece = _strip_headings(piece.strip(), headings or [])
                if len(piece.split()) >= 4:
                    found.append(piece)
    return found


def _passage_sentences(passage: dict) -> list[str]:
    headings = [h for h in (passage.get("section"), passage.get("title")) if h]
    return sentences(passage.get("text", ""), headings)


def _clean_term(term: str) -> str | None:
    """The term of a definition if it is a noun phrase of at most five words, else None."""
    term = re.sub(r"^(?:the|a|an)\s+", "", term.strip(" \"'()"), flags=re.I).strip()
    tokens = term.split()
    if not 1 <= len(tokens) <= 5 or tokens[0].lower() in PRONOUN_SUBJECTS:
        return None
    # Nouns and adjectives, with "of" allowed between them ("rate of change"); a verb means the
    # pattern matched a clause, not a term.
    if not is_noun_word(tokens[-1]) or not all(is_noun_word(t) or t.lower() == "of" for t in tokens):
        return None
    if len({t.lower() for t in tokens}) < len(tokens):
        return None
    return term


def find_definitions(passages: list[dict]) -> list[Definition]:
    found: list[Definition] = []
    seen: set[str] = set()
    for passage in passages:
        for sentence in _passage_sentences(passage):
            body = sentence.rstrip(".!? ")
            for pattern, confidence in DEFINITION_PATTERNS:
                match = pattern.match(body)
                if not match:
                    continue
                term = _clean_term(match.group("term"))
                definition = match.group("definition").strip()
                if term and len(definition.split()) >= 3 and phrase_key(term) not in seen:
                    seen.add(phrase_key(term))
                    verb = match.groupdict().get("verb") or ""
                    found.append(Definition(term, definition, sentence, passage.get("ref"), confidence, verb.lower() == "are"))
                break
    return found


def key_terms(passages: list[dict], limit: int = 30) -> list[str]:
    """Key phrases of the material (see `keyphrases`), terms it defines first."""
    text = "\n".join("\n".join(_passage_sentences(p)) for p in passages)
    terms = [d.term for d in find_definitions(passages)]
    keys = {phrase_key(t) for t in terms}
    for candidate in keyphrases(text, limit=limit, multiword_first=False):
        if candidate.key not in keys:
            terms.append(candidate.text)
            keys.add(candidate.key)
    return terms[:limit]


def _difficulty(text: str) -> str:
    n = len(text.split())
    return "easy" if n <= 8 else "medium" if n <= 20 else "hard"


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _stem(word: str) -> str:
    return word.lower()[:5] if len(word) > 5 else word.lower()


def shows_answer(question: str, answer: str) -> bool:
    """Does the question give its answer away: the answer, or one of its content words (any
    inflection: "cycle"/"cycles"), still visible in the text?"""
    visible = {_stem(w) for w in content_words(question)}
    return any(_stem(w) in visible for w in content_words(answer))


def _blank(sentence: str, term: str) -> str | None:
    """The sentence with `term` blanked out, or None if the term is not in it or the blanked
    sentence would still show the answer."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(term)}(?![\w-])", re.I)
    if not pattern.search(sentence):
        return None
    blanked = pattern.sub("_____", sentence, count=1)
    if shows_answer(blanked, term) or not blanked.strip("_ ."):
        return None
    return blanked


def _cloze_items(passages: list[dict], terms: list[str], exclude: set[str]) -> list[dict]:
    """Sentences holding one of the key terms, with that term as the answer."""
    items = []
    used_sentences: set[str] = set()
    for term in terms:
        if phrase_key(term) in exclude:
            continue
        for passage in passages:
            for sentence in _passage_sentences(passage):
                if sentence in used_sentences:
                    continue
                blanked = _blank(sentence, term)
                if blanked and len(sentence.split()) >= 6:
                    items.append({"term": term, "sentence": sentence, "blanked": blanked, "ref": passage.get("ref")})
                    used_sentences.add(sentence)
                    break
            else:
                continue
            break
    return items


def _order_by_difficulty(items: list[dict], wanted: str | None) -> list[dict]:
    if wanted not in ("easy", "medium", "hard"):
        return items
    return sorted(items, key=lambda i: i["difficulty_level"] != wanted)  # stable: keeps source order


def _shortfall(made: int, count: int, noun: str, sources: str) -> str:
    if made >= count:
        return ""
    return (
        f"The material supports {made} {noun} ({sources}); more would repeat items or need facts "
        "the material does not state. Add material on this topic or ask for fewer."
    )


@offline_task("flashcards")
def flashcards(messages, context: dict, opts: dict) -> str:
    passages = context.get("passages") or []
    count = int(context.get("count") or 10)
    cards = []
    definitions = find_definitions(passages)
    for d in definitions:
        question = f"What {'are' if d.plural else 'is'} {d.term}?"
        answer = _sentence_case(d.definition)
        cards.append({
            "question": question,
            "answer": answer,
            "explanation": d.sentence,
            "difficulty_level": _difficulty(d.definition),
            "confidence": d.confidence,
            "source": d.ref,
        })
    clozes = []
    if len(cards) < count:
        exclude = {phrase_key(d.term) for d in definitions}
        clozes = _cloze_items(passages, key_terms(passages), exclude)
        for item in clozes:
            cards.append({
                "question": f"Fill in the blank: {item['blanked']}",
                "answer": item["term"],
                "explanation": item["sentence"],
                "difficulty_level": _difficulty(item["sentence"]),
                "confidence": 0.6,
                "source": item["ref"],
            })
    cards = _order_by_difficulty(cards, context.get("difficulty_level"))[:count]
    reason = _shortfall(len(cards), count, "flashcards",
                        f"{len(definitions)} definitions and {len(clozes)} sentences with a key phrase to blank")
    return json.dumps({"flashcards": cards, "shortfall_reason": reason})


def _shape(phrase: str) -> tuple[int, bool, bool]:
    """What kind of thing a phrase is, roughly: (words, a name, a number)."""
    tokens = phrase.split()
    return len(tokens), any(t[:1].isupper() for t in tokens[1:]) or (len(tokens) == 1 and phrase[:1].isupper()), any(
        t[:1].isdigit() for t in tokens)


def good_distractor(option: str, correct: str) -> bool:
    """A wrong option that is not the answer in disguise and not a glued fragment."""
    key, answer_key = phrase_key(option), phrase_key(correct)
    option_words = option.lower().split()
    return (
        bool(option.strip())
        and key != answer_key
        and f" {answer_key} " not in f" {key} " and f" {key} " not in f" {answer_key} "
        and len(set(option_words)) == len(option_words)
    )


def _options(correct: str, pool: list[str], rng: random.Random, n: int = 4, *, similar_shape: bool = True) -> list[str] | None:
    """The answer and n-1 distractors (shaped like it when `similar_shape`: terms, not whole
    definitions), shuffled; None if there are too few."""
    distractors: list[str] = []
    keys = {phrase_key(correct)}
    candidates = [p for p in dict.fromkeys(pool) if good_distractor(p, correct)]
    rng.shuffle(candidates)
    shape = _shape(correct)
    # Plausible distractors look like the answer: same kind and word count first, then one off.
    if similar_shape:
        candidates.sort(key=lambda p: (_shape(p)[1:] != shape[1:], abs(_shape(p)[0] - shape[0])))
    for option in candidates:
        key = phrase_key(option)
        if key in keys or any(f" {k} " in f" {key} " or f" {key} " in f" {k} " for k in keys):
            continue
        if similar_shape and (_shape(option)[2] != shape[2] or abs(_shape(option)[0] - shape[0]) > 1):
            continue
        distractors.append(option)
        keys.add(key)
        if len(distractors) == n - 1:
            break
    if len(distractors) < min(MIN_DISTRACTORS, n - 1):
        return None
    options = [correct, *distractors]
    rng.shuffle(options)
    return options


@offline_task("quiz_questions")
def quiz_questions(messages, context: dict, opts: dict) -> str:
    passages = context.get("passages") or []
    count = int(context.get("count") or 10)
    topic = (context.get("topic") or "").strip()
    rng = _rng(topic, [p.get("text", "")[:200] for p in passages])
    definitions = find_definitions(passages)
    terms = key_terms(passages)
    questions: list[dict] = []
    dropped = 0

    def add(item: dict) -> None:
        nonlocal dropped
        if item["question_type"] == "short_answer" or item.get("options"):
            questions.append(item)
        else:
            dropped += 1  # not enough distractors of the answer's kind: no item rather than a poor one

    defined_terms = [d.term for d in definitions]
    for i, d in enumerate(definitions):
        # Alternate the direction so a material with few definitions still yields varied items.
        if i % 2 == 0 and len(definitions) >= 3:
            others = [_sentence_case(o.definition) for o in definitions if o is not d]
            add({
                "question_text": f"What {'are' if d.plural else 'is'} {d.term}?",
                "question_type": "multiple_choice",
                "options": _options(_sentence_case(d.definition), others, rng, similar_shape=False),
                "correct_answer": _sentence_case(d.definition),
                "explanation": d.sentence,
                "concept": d.term,
                "difficulty_level": _difficulty(d.definition),
                "confidence": d.confidence,
                "source": d.ref,
            })
        else:
            question = f"Which term is described as: \"{_sentence_case(d.definition)}\"?"
            add({
                "question_text": question,
                "question_type": "multiple_choice",
                "options": None if shows_answer(question, d.term) else _options(
                    d.term, [t for t in defined_terms + terms if not shows_answer(question, t)], rng),
                "correct_answer": d.term,
                "explanation": d.sentence,
                "concept": d.term,
                "difficulty_level": _difficulty(d.definition),
                "confidence": d.confidence,
                "source": d.ref,
            })
    clozes = _cloze_items(passages, terms, {phrase_key(t) for t in defined_terms})
    for item in clozes:
        add({
            "question_text": f"Fill in the blank: {item['blanked']}",
            "question_type": "multiple_choice",
            # A distractor the sentence already contains would read as a second answer.
            "options": _options(item["term"], [t for t in terms if _blank(item["sentence"], t) is None], rng),
            "correct_answer": item["term"],
            "explanation": item["sentence"],
            "concept": item["term"],
            "difficulty_level": _difficulty(item["sentence"]),
            "confidence": 0.6,
            "source": item["ref"],
        })
    # True/false: a definition stated as written, or with its term swapped for another one.
    for i, d in enumerate(definitions[:: 2] if len(definitions) > 1 else []):
        swap = [t for t in defined_terms if t != d.term]
        truthful = i % 2 == 0 or not swap
        term = d.term if truthful else rng.choice(swap)
        add({
            "question_text": f"True or false: {term} {'are' if d.plural else 'is'} {d.definition.rstrip('.')}.",
            "question_type": "true_false",
            "options": ["True", "False"],
            "correct_answer": "True" if truthful else "False",
            "explanation": d.sentence,
            "concept": d.term,
            "difficulty_level": "easy",
            "confidence": round(d.confidence * 0.9, 2),
            "source": d.ref,
        })
    questions = _order_by_difficulty(questions, context.get("difficulty_level"))[:count]
    title = f"{topic} Quiz" if topic else "Quiz"
    reason = _shortfall(len(questions), count, "questions", (
        f"{len(definitions)} definitions and {len(clozes)} sentences with a key phrase; "
        f"{dropped} more lacked three wrong options of the answer's kind"))
    return json.dumps({"title": title, "questions": questions, "shortfall_reason": reason})


# --- homework feedback ------------------------------------------------------------------------
def _vector(text: str) -> Counter[str]:
    return Counter(content_words(text))


def cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


@offline_task("homework_feedback")
def homework_feedback(messages, context: dict, opts: dict) -> str:
    submission = context.get("submission") or ""
    passages = context.get("passages") or []
    topic = (context.get("topic") or "").strip()
    sub_vec = _vector(submission)
    n_words = len(words(submission))
    rubric: list[dict] = []
    strengths: list[str] = []
    improvements: list[str] = []
    missing: list[str] = []
    used_refs: list[Any] = []

    if passages:
        sims = sorted(((cosine(sub_vec, _vector(p.get("text", ""))), p.get("ref")) for p in passages), reverse=True)
        best = sims[0][0]
        used_refs = [ref for sim, ref in sims[:3] if sim > 0]
        # A close paraphrase of course text scores around 0.5; that earns full relevance marks.
        relevance = round(min(1.0, best / 0.5) * 40, 1)
        rubric.append({"criterion": "Relevance to your material", "score": relevance, "max_score": 40,
                       "comment": f"Similarity to the closest passage: {best:.2f}."})
        concepts = [t for t in key_terms(passages, limit=10)]
        present_words = set(content_words(submission))
        covered = [c for c in concepts if set(content_words(c)) and set(content_words(c)) <= present_words]
        missing = [c for c in concepts if c not in covered]
        coverage = round(40 * len(covered) / len(concepts), 1) if concepts else 0.0
        rubric.append({"criterion": "Coverage of key concepts", "score": coverage, "max_score": 40,
                       "comment": f"{len(covered)} of {len(concepts)} key concepts used."})
        if covered:
            strengths.append("You used these key concepts: " + ", ".join(covered[:5]) + ".")
        if missing:
            improvements.append("Bring in these concepts from your material: " + ", ".join(missing[:5]) + ".")
        if best < 0.2:
            improvements.append("Your answer strays from your course material; reread it and answer from it.")
        elif best >= 0.35:
            strengths.append("Your answer stays close to your course material.")
    elif topic:
        topic_words = set(content_words(topic))
        hit = len(topic_words & set(sub_vec)) / len(topic_words) if topic_words else 0
        rubric.append({"criterion": "Addresses the topic", "score": round(hit * 20, 1), "max_score": 20,
                       "comment": "No matching material was found, so only the topic words were checked."})
        improvements.append("Add course material on this topic so your homework can be checked against it.")

    development = min(1.0, n_words / 150) * 0.7 + min(1.0, len(sentences(submission)) / 5) * 0.3
    rubric.append({"criterion": "Development", "score": round(development * 20, 1), "max_score": 20,
                   "comment": f"{n_words} words in {len(sentences(submission))} sentences."})
    if n_words < 60:
        improvements.append("Develop your answer further: explain each point in full sentences.")
    elif n_words >= 150:
        strengths.append("Your answer is well developed.")

    total = sum(r["score"] for r in rubric)
    possible = sum(r["max_score"] for r in rubric)
    score = round(100 * total / possible, 1) if possible else 0.0
    verdict = "Excellent work" if score >= 85 else "Good work" if score >= 70 else "A fair start" if score >= 50 else "Needs more work"
    parts = [f"{verdict}{f' on {topic}' if topic else ''}: {score:.0f}/100."]
    parts += strengths + improvements
    return json.dumps({
        "score": score,
        "feedback": " ".join(parts),
        "strengths": strengths,
        "improvements": improvements,
        "missing_concepts": missing[:10],
        "rubric": rubric,
        "sources": used_refs,
    })
