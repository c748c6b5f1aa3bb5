"""Sources of study resources for a goal or a weak topic (learning.selectors.resources_for_concepts).

Flashcards live in assessments, which sits above learning: it records learner events here. So
AssessmentsConfig.ready registers its flashcard source, and learning suggests the student's cards
without importing assessments (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable

# source(*, user, concepts: list[str], difficulty: str) -> resource rows in the canonical API's
# shape (type, title, url, estimated_time, difficulty, ...), best first.
ResourceSource = Callable[..., list[dict]]

_sources: list[ResourceSource] = []


def resource_source_register(source: ResourceSource) -> None:
    if source not in _sources:  # ready() may run more than once (tests that reload apps)
        _sources.append(source)


def resource_sources() -> tuple[ResourceSource, ...]:
    return tuple(_sources)
