"""Offline generation tasks: flashcards, quiz questions and homework feedback by rule.

Each handler reads the structured `context` its caller built the prompt from and returns the
JSON text a model would return under the same contract, so the caller validates both backends
the same way. Every item names the passage it came from (`source`: the passage's `ref`).

- flashcards: definitional sentences ("X is a ...", "X refers to ...", "X: ...") become
  "What is X?" cards; when the material has too few, cloze cards blank a key term.
- quiz_questions: multiple choice from definitions and cloze sentences, with distractors taken
  from the other key terms / definitions of the same material; true/false by swapping terms.
- homework_feedback: a rubric (relevance = similarity to the student's material, coverage of the
  material's key concepts, development) with feedback naming what is missing.
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
from tutorhub.knowledge.indexing import STOPWORDS as INDEX_STOPWORDS

# The knowledge index's English stop list, plus words that are never a term worth testing.
STOPWORDS = INDEX_STOPWORDS | frozenset(
    """also ours theirs used use uses using called known one two many much may might must shall often usually
    example examples include includes including within without however therefore thus per via every""".split()
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


def sentences(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text or "").strip()
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])", text)
    lines = []
    for part in parts:
        # "Term: definition" glossaries keep one entry per line in the source, not per sentence.
        lines.extend(p.strip() for p in re.split(r"\s(?=[A-Z][\w \-']{1,40}:\s)", part) if p.strip())
    return [s for s in lines if len(s.split()) >= 4]


def _clean_term(term: str) -> str | None:
    term = re.sub(r"^(?:the|a|an)\s+", "", term.strip(" \"'()"), flags=re.I).strip()
    tokens = term.split()
    if not 1 <= len(tokens) <= 6 or tokens[0].lower() in PRONOUN_SUBJECTS:
        return None
    if not any(t.lower() not in STOPWORDS for t in tokens):
        return None
    return term


def find_definitions(passages: list[dict]) -> list[Definition]:
    found: list[Definition] = []
    seen: set[str] = set()
    for passage in passages:
        for sentence in sentences(passage.get("text", "")):
            body = sentence.rstrip(".!? ")
            for pattern, confidence in DEFINITION_PATTERNS:
                match = pattern.match(body)
                if not match:
                    continue
                term = _clean_term(match.group("term"))
                definition = match.group("definition").strip()
                if term and len(definition.split()) >= 3 and term.lower() not in seen:
                    seen.add(term.lower())
                    verb = match.groupdict().get("verb") or ""
                    found.append(Definition(term, definition, sentence, passage.get("ref"), confidence, verb.lower() == "are"))
                break
    return found


NOUN_CUES = frozenset("the a an of in on from with by into for its their this these each every some any and or".split())


def key_terms(passages: list[dict], limit: int = 30) -> list[str]:
    """Salient terms of the material: defined terms first, then repeated two-word phrases
    ("carbon dioxide"), capitalised phrases, and content words seen in noun position (after an
    article or preposition) - a cheap stand-in for a part-of-speech tagger, so verbs like
    "happen" do not become quiz answers."""
    counts: Counter[str] = Counter()
    display: dict[str, str] = {}
    bigrams: Counter[str] = Counter()
    for passage in passages:
        text = passage.get("text", "")
        for sentence in sentences(text) or [text]:
            tokens = WORD.findall(sentence)
            for i, w in enumerate(tokens):
                lw = w.lower()
                if lw in STOPWORDS or len(lw) < 4 or lw.isdigit():
                    continue
                prev = tokens[i - 1].lower() if i else ""
                nxt = tokens[i + 1].lower() if i + 1 < len(tokens) else ""
                if prev in NOUN_CUES or nxt in ("is", "are", "was", "were") or (i and w[0].isupper()):
                    counts[lw] += 2
                display.setdefault(lw, w if i and w[0].isupper() else lw)
                if nxt and nxt not in STOPWORDS and len(nxt) > 3 and not nxt.isdigit():
                    bigrams[f"{lw} {nxt}"] += 1
    for phrase, n in bigrams.items():
        if n >= 2:
            counts[phrase] += 3 * n
            display[phrase] = phrase
    ranked = sorted(counts, key=lambda t: (-(counts[t] * math.log(2 + len(t))), t))
    terms = [d.term for d in find_definitions(passages)]
    lowered = {t.lower() for t in terms}
    for t in ranked:
        if t not in lowered:
            terms.append(display[t])
            lowered.add(t)
    return terms[:limit]


def _difficulty(text: str) -> str:
    n = len(text.split())
    return "easy" if n <= 8 else "medium" if n <= 20 else "hard"


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _blank(sentence: str, term: str) -> str | None:
    pattern = re.compile(rf"(?<![\w-]){re.escape(term)}(?![\w-])", re.I)
    if not pattern.search(sentence):
        return None
    return pattern.sub("_____", sentence, count=1)


def _cloze_items(passages: list[dict], terms: list[str], exclude: set[str]) -> list[dict]:
    """Sentences holding one of the key terms, with that term as the answer."""
    items = []
    used_sentences: set[str] = set()
    for term in terms:
        if term.lower() in exclude:
            continue
        for passage in passages:
            for sentence in sentences(passage.get("text", "")):
                if sentence in used_sentences:
                    continue
                blanked = _blank(sentence, term)
                if blanked and blanked.strip("_ .") and len(sentence.split()) >= 6:
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
    if len(cards) < count:
        exclude = {d.term.lower() for d in definitions}
        for item in _cloze_items(passages, key_terms(passages), exclude):
            cards.append({
                "question": f"Fill in the blank: {item['blanked']}",
                "answer": item["term"],
                "explanation": item["sentence"],
                "difficulty_level": _difficulty(item["sentence"]),
                "confidence": 0.6,
                "source": item["ref"],
            })
    cards = _order_by_difficulty(cards, context.get("difficulty_level"))[:count]
    return json.dumps({"flashcards": cards})


def _options(correct: str, pool: list[str], rng: random.Random, n: int = 4) -> list[str]:
    distractors = [p for p in dict.fromkeys(pool) if p.lower() != correct.lower()]
    rng.shuffle(distractors)
    # Plausible distractors look like the answer: same number of words first.
    distractors.sort(key=lambda p: abs(len(p.split()) - len(correct.split())))
    options = [correct, *distractors[: n - 1]]
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

    def add(item: dict) -> None:
        if len(item.get("options") or []) >= 2 or item["question_type"] == "short_answer":
            questions.append(item)

    defined_terms = [d.term for d in definitions]
    for i, d in enumerate(definitions):
        # Alternate the direction so a material with few definitions still yields varied items.
        if i % 2 == 0 and len(definitions) >= 3:
            others = [_sentence_case(o.definition) for o in definitions if o is not d]
            add({
                "question_text": f"What {'are' if d.plural else 'is'} {d.term}?",
                "question_type": "multiple_choice",
                "options": _options(_sentence_case(d.definition), others, rng),
                "correct_answer": _sentence_case(d.definition),
                "explanation": d.sentence,
                "concept": d.term,
                "difficulty_level": _difficulty(d.definition),
                "confidence": d.confidence,
                "source": d.ref,
            })
        else:
            add({
                "question_text": f"Which term is described as: \"{_sentence_case(d.definition)}\"?",
                "question_type": "multiple_choice",
                "options": _options(d.term, defined_terms + terms, rng),
                "correct_answer": d.term,
                "explanation": d.sentence,
                "concept": d.term,
                "difficulty_level": _difficulty(d.definition),
                "confidence": d.confidence,
                "source": d.ref,
            })
    for item in _cloze_items(passages, terms, {t.lower() for t in defined_terms}):
        add({
            "question_text": f"Fill in the blank: {item['blanked']}",
            "question_type": "multiple_choice",
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
    return json.dumps({"title": title, "questions": questions})


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
