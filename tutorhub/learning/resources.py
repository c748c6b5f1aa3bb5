"""Sources of study resources for a goal or a weak topic (learning.selectors.resources_for_concepts).

Flashcards live in assessments, which sits above learning: it records learner events here. So
AssessmentsConfig.ready registers its flashcard source, and learning suggests the student's cards
without importing assessments (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable

from tutorhub.core.registry import Registry

# source(*, user, concepts: list[str], difficulty: str) -> resource rows in the canonical API's
# shape (type, title, url, estimated_time, difficulty, ...), best first.
ResourceSource = Callable[..., list[dict]]

resource_sources: Registry[ResourceSource] = Registry()
