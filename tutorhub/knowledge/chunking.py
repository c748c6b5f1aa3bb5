"""Headings-aware, token-sized chunking with overlap.

A chunk never spans two sections (so a citation's section is exact) nor two PDF pages (so
its page is exact); inside a section, paragraphs and then sentences are packed up to
`max_tokens`, and the last `overlap_tokens` worth of sentences is repeated at the start of
the next chunk so an answer that straddles a boundary is still found whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tutorhub.ai.base import estimate_tokens

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"'(\[A-Z0-9])")
_PARAGRAPH = re.compile(r"\n\s*\n")


@dataclass
class Block:
    """A run of text with one location: the output unit of extraction."""

    text: str
    page: int | None = None
    section: str | None = None
    level: int | None = None  # the section heading's outline level, 1 = top (None: no heading)


@dataclass
class ChunkDraft:
    text: str
    page: int | None
    section: str | None
    position: int
    token_count: int


def _pieces(text: str, max_tokens: int) -> list[str]:
    """Paragraphs, split into sentences (and hard-wrapped words) when a paragraph is too long."""
    out: list[str] = []
    for para in _PARAGRAPH.split(text):
        para = " ".join(para.split())
        if not para:
            continue
        if estimate_tokens(para) <= max_tokens:
            out.append(para)
            continue
        for sentence in _SENTENCE_END.split(para):
            if estimate_tokens(sentence) <= max_tokens:
                out.append(sentence)
                continue
            words, current = sentence.split(" "), []
            for word in words:  # a "sentence" with no punctuation (tables, code): wrap by words
                current.append(word)
                if estimate_tokens(" ".join(current)) >= max_tokens:
                    out.append(" ".join(current))
                    current = []
            if current:
                out.append(" ".join(current))
    return out


def chunk_blocks(blocks: Iterable[Block], *, max_tokens: int = 200, overlap_tokens: int = 40) -> list[ChunkDraft]:
    """Pack each block's text into chunks of at most ~max_tokens, overlapping by ~overlap_tokens."""
    drafts: list[ChunkDraft] = []
    for block in blocks:
        pieces = _pieces(block.text, max_tokens)
        current: list[str] = []
        size = 0
        for piece in pieces:
            cost = estimate_tokens(piece + " ")  # the joining space counts, so a chunk never exceeds the budget
            if current and size + cost > max_tokens:
                text = " ".join(current)
                drafts.append(ChunkDraft(text, block.page, block.section, len(drafts), estimate_tokens(text)))
                # Carry whole trailing pieces as overlap, as long as they fit the overlap budget.
                carry: list[str] = []
                carried = 0
                for previous in reversed(current):
                    c = estimate_tokens(previous + " ")
                    if carried + c > overlap_tokens or c + cost > max_tokens:
                        break
                    carry.insert(0, previous)
                    carried += c
                current, size = carry, carried
            current.append(piece)
            size += cost
        if current:
            text = " ".join(current)
            drafts.append(ChunkDraft(text, block.page, block.section, len(drafts), estimate_tokens(text)))
    return drafts
