"""Exponential backoff: the one formula (`exponential_delay`), used by the long-running processes
(runall's supervisor, the task worker, the scheduler: they must outlive a crashed child or a
database outage, retrying ever more slowly instead of exiting or hammering a server that is
down) through `Backoff`, and by outbound deliveries' retries through `tutorhub.core.retry`."""

from __future__ import annotations

import random

from django.db import DatabaseError, InterfaceError, OperationalError

# What a database outage looks like from Django: the server is down or restarting
# (OperationalError), the connection object died under us (InterfaceError), SQLite's
# "database is locked" (an OperationalError too). DatabaseError covers driver-specific
# subclasses raised while the connection is half-open (e.g. psycopg's AdminShutdown).
DB_OUTAGE_ERRORS = (OperationalError, InterfaceError, DatabaseError)


def exponential_delay(failures: int, *, base: float, maximum: float, factor: float = 2.0) -> float:
    """Seconds to wait after the `failures`-th failure in a row: base, base*factor, ... capped at maximum."""
    return min(base * factor ** max(failures - 1, 0), maximum)


def jittered(delay: float, jitter: float) -> float:
    """`delay` shortened by up to `jitter` (a fraction) of itself, so clients that failed together
    do not all come back in the same instant; never longer than the schedule promised."""
    return delay * (1 - jitter * random.random())  # noqa: S311 - spreading retries, not security


class Backoff:
    """Delays of `initial` seconds doubling to `maximum`; `reset()` after a success."""

    def __init__(self, *, initial: float = 1.0, maximum: float = 30.0):
        self.initial = initial
        self.maximum = maximum
        self.failures = 0

    def failed(self) -> float:
        """Record a failure; returns how long to wait before the next try."""
        self.failures += 1
        return exponential_delay(self.failures, base=self.initial, maximum=self.maximum)

    def reset(self) -> None:
        self.failures = 0
