"""Exponential backoff shared by the long-running processes (runall's supervisor, the task
worker, the scheduler): they must outlive a crashed child or a database outage, retrying
ever more slowly instead of exiting or hammering a server that is down."""

from __future__ import annotations

from django.db import DatabaseError, InterfaceError, OperationalError

# What a database outage looks like from Django: the server is down or restarting
# (OperationalError), the connection object died under us (InterfaceError), SQLite's
# "database is locked" (an OperationalError too). DatabaseError covers driver-specific
# subclasses raised while the connection is half-open (e.g. psycopg's AdminShutdown).
DB_OUTAGE_ERRORS = (OperationalError, InterfaceError, DatabaseError)


class Backoff:
    """Delays of `initial` seconds doubling to `maximum`; `reset()` after a success."""

    def __init__(self, *, initial: float = 1.0, maximum: float = 30.0):
        self.initial = initial
        self.maximum = maximum
        self.delay = initial
        self.failures = 0

    def failed(self) -> float:
        """Record a failure; returns how long to wait before the next try."""
        delay = self.delay
        self.failures += 1
        self.delay = min(self.delay * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self.delay = self.initial
        self.failures = 0
