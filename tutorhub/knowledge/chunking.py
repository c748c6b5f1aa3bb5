"""Headings-aware, token-sized chunking with overlap.

A chunk never spans two sections (so a citation's section is exact) nor two PDF pages (so
its page is exact); inside a section, paragraphs and then sentences are packed up to
`max_tokens`, and the last `overlap_tokens` worth of sentences is repeated at the start of
the next chunk so an answer that straddles a boundary is still found whole.

Each chunk also gets its heading path ("Document › Section › Subsection", see
`assign_heading_paths`): it is indexed and embedded with the chunk, so a question that names a
section finds that section's passages, while `text` stays exactly the passage shown to users.
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
    heading_path: str = ""


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


PATH_SEPARATOR = " › "
_PAGE_TITLE = re.compile(r"Page \d+")


def outline_paths(title: str, outline: list[dict]) -> list[str]:
    """The heading path of every outline entry, in order.

    An entry's `level` (1 = top) places it under the nearest preceding entry of a smaller level;
    an entry without a level (older documents, formats with flat sections) sits directly under
    the document title. "Page N" entries are page markers made when a page has no heading, not
    headings, so they add nothing to the path. A heading equal to the title (an HTML page's h1)
    is not repeated."""
    title = " ".join((title or "").split())
    stack: list[tuple[int, str]] = []
    paths = []
    for entry in outline:
        heading = " ".join(str(entry.get("title") or "").split())
        is_heading = heading and not (entry.get("page") and _PAGE_TITLE.fullmatch(heading))
        if is_heading:
            level = entry.get("level")
            level = level if isinstance(level, int) and level > 0 else None
            if level is None:
                stack = [(1, heading)]
            else:
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, heading))
        parts = [title] if title else []
        for _level, name in stack if is_heading else []:
            if not parts or name.casefold() != parts[-1].casefold():
                parts.append(name)
        paths.append(PATH_SEPARATOR.join(parts))
    return paths


def entry_title(section: str | None, page: int | None) -> str | None:
    """The outline's title for a run of text: its section, else the page marker (written by
    services.processing._outline, matched here by heading_paths)."""
    return section or (f"Page {page}" if page else None)


def heading_paths(title: str, outline: list[dict], located: Iterable[tuple[str | None, int | None]]) -> list[str]:
    """The heading path for each (section, page) of a document's chunks, given in document order.

    Chunks and outline entries are both in document order, so each chunk is matched to the next
    outline entry with its section and page (a section title repeated in two places gets the
    path of the right one); a chunk the outline does not know falls back to title › section."""
    paths = outline_paths(title, outline)
    keys = [(str(e.get("title") or "") or None, e.get("page")) for e in outline]
    title = " ".join((title or "").split())
    out, cursor = [], 0
    for section, page in located:
        key = (entry_title(section, page), page)
        match = next((j for j in range(cursor, len(keys)) if keys[j] == key), None)
        if match is None:  # an earlier entry (outline out of order) before giving up
            match = next((j for j in range(cursor) if keys[j] == key), None)
        if match is not None:
            cursor = match
            out.append(paths[match])
        else:
            out.append(PATH_SEPARATOR.join(p for p in (title, section) if p))
    return out


def assign_heading_paths(drafts: list[ChunkDraft], *, title: str, outline: list[dict]) -> list[ChunkDraft]:
    """Set each draft's heading_path from the document's outline (see `heading_paths`)."""
    for draft, path in zip(drafts, heading_paths(title, outline, ((d.section, d.page) for d in drafts)), strict=True):
        draft.heading_path = path
    return drafts
