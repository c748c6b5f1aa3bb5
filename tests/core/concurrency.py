"""Run one piece of work on several threads at once, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def run_together(work: Callable[[int], Any], threads: int = 2, *, timeout: float = 30) -> list:
    """Start `work(i)` on `threads` threads released together by a barrier; returns their results
    (in finishing order) and fails with the first error any of them raised. Each thread closes its
    connection, so the test database can be dropped afterwards."""
    barrier = threading.Barrier(threads)
    results: list = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results.append(work(i))
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            errors.append(exc)
        finally:
            connection.close()

    started = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in started), "a thread did not finish in time"
    assert not errors, errors
    return results
