"""Key phrases of a text: the noun phrases a teacher would name as its topics and concepts.

Two steps, each doing one honest job:

1. Candidates are noun phrases found by a shallow chunker: runs of words between stop words,
   verbs and punctuation, of which every suffix of at most four words is a candidate (English
   noun phrases end in their head noun: "light energy", "energy"). A run must follow a noun cue
   (an article, a preposition, a possessive) or open the sentence, so a verb phrase such as
   "takes place" or "make glucose" is never one. The verb list stands in for a part-of-speech
   tagger, which would need a model download.
2. Candidates are ranked with YAKE's word statistics (the `yake` package: casing, position,
   frequency, relatedness to context and spread over sentences), combined per phrase by YAKE's
   own formula S(kw) = prod S(w) / (TF(kw) * (1 + sum S(w))) - lower is more important.

The result holds no duplicates (plural and case variants count once), no phrase with a word
repeated ("chlorophyll chlorophyll") and no snake_case joins.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from tutorhub.core.text import STOPWORDS as INDEX_STOPWORDS

# The search index's English stop list (core.text), plus words that are never a term worth testing.
STOPWORDS = INDEX_STOPWORDS | frozenset(
    """also ours theirs one two three many much may might must shall often usually example examples
    however therefore thus per via every another several various whose within without upon onto
    among amongst across along around toward towards yet still even ever either neither
    first second third last next new old same different certain main most least more less
    i.e e.g etc vs zero four five six seven eight nine ten hundred thousand million""".split()
)
# Words that open a noun phrase: what follows them is a thing, not an action.
NOUN_CUES = frozenset(
    """the a an of in on from with by into for its their this these those each every some any all no
    our your his her called named about between through during under over than such both""".split()
)
_VERB_LEMMAS = """absorb accept act add affect allow apply arise assume attach become begin bind break bring
build carry cause change check choose claim collect combine come compare complete consist contain continue
control convert cool count cover create cut decide decrease define depend describe determine develop die
differ divide do draw drive eat enable end enter equal estimate exist expand explain express fall feed feel
fill find fix flow follow form found gain get give go grow happen have hear heat help hold identify include
increase indicate involve join keep kill know lead learn leave let lie link live look lose make mean measure
meet move multiply name need note notice obtain occur offer open pass pay permit place play point prevent
produce protect prove provide pull push put reach read receive reduce refer reflect relate release remain
remove repeat replace represent require rest result return rise run save say see seem send separate serve
set shape share show shrink solve speak split stand start state stay stop store study subtract suggest supply
support take talk teach tell tend think transfer transform travel treat turn understand undergo use vary want
warm write yield""".split()
_IRREGULAR = """am is are was were be been being has had does did done made took taken gave given went gone
came grew grown found held kept knew known led left lost meant met paid put ran said saw seen sent set shown
stood told thought understood underwent undergone wrote written drew drawn fell fallen fed felt broke broken
brought built began begun chose chosen lay lain rose risen bound""".split()


def _verb_forms(lemma: str) -> set[str]:
    forms = {lemma}
    if lemma.endswith("e"):
        forms |= {lemma + "s", lemma + "d", lemma[:-1] + "ing"}
    elif lemma.endswith("y") and lemma[-2:-1] not in "aeiou":
        forms |= {lemma[:-1] + "ies", lemma[:-1] + "ied", lemma + "ing"}
    elif lemma.endswith(("s", "sh", "ch", "x", "z")):
        forms |= {lemma + "es", lemma + "ed", lemma + "ing"}
    else:
        forms |= {lemma + "s", lemma + "ed", lemma + "ing"}
    return forms


VERBS = frozenset(_IRREGULAR) | frozenset(f for lemma in _VERB_LEMMAS for f in _verb_forms(lemma))
# Tokens: words (with inner hyphens/apostrophes), numbers, and the punctuation that ends a phrase.
TOKEN = re.compile(r"[A-Za-z][A-Za-z\-']*[A-Za-z]|[A-Za-z]|\d+(?:[.,]\d+)*|[^\sA-Za-z\d]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`: every line break is a boundary (a heading or list item is never glued to
    the next sentence), then sentence-ending punctuation followed by a capital."""
    out = []
    for line in (text or "").splitlines():
        line = " ".join(line.split())
        if line:
            out.extend(s.strip() for s in _SENTENCE.split(line) if s.strip())
    return out


def phrase_key(phrase: str) -> str:
    """The identity of a phrase: lowercase, last word without a plural s ("Stomata"/"stomatas")."""
    words = phrase.lower().split()
    if words and len(words[-1]) > 3 and words[-1].endswith("s") and not words[-1].endswith("ss"):
        words[-1] = words[-1][:-1]
    return " ".join(words)


def is_noun_word(word: str) -> bool:
    lw = word.lower()
    return (
        lw not in STOPWORDS and lw not in VERBS and len(lw) > 1 and not lw[0].isdigit()
        and not lw.endswith("ly")  # adverbs ("quickly") end a phrase too
        and (word[0].isalpha())
    )


@dataclass
class Candidate:
    text: str  # display form
    key: str
    count: int = 0
    sentences: int = 0
    score: float = math.inf


_DETERMINERS = frozenset("the a an this these those its their his her our your each every some any".split())


def _is_verb_in_run(tokens: list[str], k: int, start: int, end: int) -> bool:
    """Is tokens[k], inside the run tokens[start:end], a verb the lexicon does not know? Two cues:
    a word directly followed by a determiner ("limit the rate": a noun is rarely followed by "the"),
    and an -s word with more of the run after it ("rule differentiates composite functions": a
    plural noun rarely modifies the next noun). The first word of a run is left alone: there it is
    the subject ("Integrals accumulate ...")."""
    if k == start:
        return False
    following = tokens[k + 1].lower() if k + 1 < len(tokens) else ""
    if following in _DETERMINERS:
        return True
    word = tokens[k].lower()
    return k + 1 < end and len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is"))


def _runs(tokens: list[str]) -> list[tuple[int, int, bool, bool]]:
    """(start, end, certain, name) of the noun-word runs of a sentence's tokens. A run is certain
    when a noun cue (an article, a preposition, a list comma) or a verb opens it, or it opens the
    sentence with at most two words; a longer run opening the sentence is subject, verb and object
    run together ("Integrals accumulate area") and only counts where it is also seen elsewhere."""
    out = []
    i = 0
    while i < len(tokens):
        if not is_noun_word(tokens[i]):
            i += 1
            continue
        j = i
        while j < len(tokens) and is_noun_word(tokens[j]):
            j += 1
        name = False
        # A name joined by "of" ("Committee of Public Safety", "Rights of Man") is one phrase:
        # its parts alone are fragments.
        while (j + 1 < len(tokens) and tokens[j] == "of" and tokens[j - 1][:1].isupper()
               and tokens[j + 1][:1].isupper() and is_noun_word(tokens[j + 1])):
            j += 2
            while j < len(tokens) and is_noun_word(tokens[j]) and tokens[j][:1].isupper():
                j += 1
            name = True
        previous = tokens[i - 1].lower() if i else ""
        cued = previous in NOUN_CUES or previous in {",", "(", ":", ";", "and", "or"} or previous in VERBS
        if i == 0 or cued:
            start = i
            for k in range(i, j):
                if not name and _is_verb_in_run(tokens, k, start, j):
                    if k > start:
                        out.append((start, k, cued or (start == 0 and k - start <= 2) or start != i, False))
                    start = k + 1  # what follows a verb is its object: a noun phrase
            if start < j:
                out.append((start, j, cued or start != i or (j - start <= 2), name))
        i = j
    return out


def candidates(sentences: list[str]) -> dict[str, Candidate]:
    """Noun-phrase candidates of the sentences, with how often and in how many sentences each
    occurs; only phrases seen at least once in a certain context (see `_runs`) are kept."""
    found: dict[str, Candidate] = {}
    display: dict[str, Counter[str]] = {}
    certain: set[str] = set()
    for sentence in sentences:
        tokens = TOKEN.findall(sentence)
        seen_here: set[str] = set()
        for start, end, is_certain, name in _runs(tokens):
            run = tokens[start:end]
            for size in [len(run)] if name else range(1, min(4, len(run)) + 1):
                words = run[len(run) - size :]
                if len({w.lower() for w in words}) < len(words):
                    continue  # "Chlorophyll Chlorophyll": a repeated word is a glued fragment
                text = " ".join(words)
                key = phrase_key(text)
                candidate = found.setdefault(key, Candidate(text=text, key=key))
                candidate.count += 1
                display.setdefault(key, Counter())[_display(words, first=start + len(run) - size == 0)] += 1
                if is_certain:
                    certain.add(key)
                if key not in seen_here:
                    candidate.sentences += 1
                    seen_here.add(key)
    for key, forms in display.items():
        found[key].text = forms.most_common(1)[0][0]
    return {key: c for key, c in found.items() if key in certain}


def _display(words: list[str], *, first: bool) -> str:
    # A capital at the start of a sentence says nothing; inside one it marks a name ("Calvin cycle").
    out = []
    for n, word in enumerate(words):
        keep = word[0].isupper() and not (first and n == 0) and not word.isupper() or (word.isupper() and len(word) > 1)
        out.append(word if keep else word.lower())
    return " ".join(out)


def _word_scores(text: str) -> dict[str, float]:
    """YAKE's score of every single word (lower = more important)."""
    import yake

    extractor = yake.KeywordExtractor(lan="en", n=1, dedup_lim=1.0, top=100_000, stopwords=set(STOPWORDS))
    return {word.lower(): score for word, score in extractor.extract_keywords(text)}


def keyphrases(text: str, *, limit: int = 20, multiword_first: bool = True) -> list[Candidate]:
    """The text's best `limit` key phrases, most important first.

    With `multiword_first`, phrases of two or more words come before single words (a single word
    is only used when the text has too few phrases), and a single word already inside a chosen
    phrase is left out."""
    sentences = split_sentences(text)
    found = candidates(sentences)
    if not found:
        return []
    scores = _word_scores(" ".join(sentences))
    worst = max(scores.values(), default=1.0) or 1.0
    for candidate in found.values():
        words = candidate.key.split()
        word_scores = [scores.get(w, scores.get(w + "s", worst)) for w in words]
        product = math.prod(word_scores)
        candidate.score = float(product / (candidate.count * (1 + sum(word_scores))))
    ranked = sorted(found.values(), key=lambda c: (c.score, c.key))
    if multiword_first:
        ranked = [c for c in ranked if " " in c.key] + [c for c in ranked if " " not in c.key]
    chosen: list[Candidate] = []
    chosen_words: set[str] = set()
    for candidate in ranked:
        words = candidate.key.split()
        if len(words) == 1 and (phrase_key(words[0]) in chosen_words or words[0] in chosen_words):
            continue
        if any(candidate.key in c.key.split(" ") or _contains(c.key, candidate.key) for c in chosen):
            continue  # "carbon dioxide" already chosen: "dioxide" adds nothing
        chosen.append(candidate)
        chosen_words |= {phrase_key(w) for w in words} if len(words) > 1 else set()
        if len(chosen) >= limit:
            break
    return chosen


def _contains(longer: str, shorter: str) -> bool:
    return f" {shorter} " in f" {longer} "
