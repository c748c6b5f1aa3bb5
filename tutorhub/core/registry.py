"""Implementations that an app higher in the stack hands to one below it (docs/architecture.md).

A lower app cannot import a higher one, so it declares a Registry, and the higher app adds its
implementation from its AppConfig.ready. The lower app then iterates over what was added.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self) -> None:
        self._items: list[T] = []

    def register(self, item: T) -> None:
        if item not in self._items:  # ready() may run more than once (tests that reload apps)
            self._items.append(item)

    def __iter__(self) -> Iterator[T]:
        return iter(tuple(self._items))
