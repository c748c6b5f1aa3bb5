"""Database calls that survive a connection which died while it was kept.

Connections are kept between calls (CONN_MAX_AGE; Channels' database thread; chat's writes
thread). After the database server restarts, a kept connection is dead, and Django finds out
only when a query fails on it - so the first request after an outage used to fail (the chat
WebSocket's handshake answered 500, the next turn lost its question and answer)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)
T = TypeVar("T")

# What a lost or refused connection raises. Narrower than core.backoff.DB_OUTAGE_ERRORS on
# purpose: a retry must not repeat an IntegrityError or a DataError (both DatabaseErrors),
# which reconnecting does not cure.
LOST_CONNECTION_ERRORS = (OperationalError, InterfaceError)


def database_busy(exc: Exception) -> bool:
    """Overload, not a lost connection: SQLite's write lock stayed taken for its busy timeout, or
    every pooled PostgreSQL connection stayed busy for DB_POOL_TIMEOUT."""
    if isinstance(exc, OperationalError) and "database is locked" in str(exc):
        return True
    try:
        from psycopg_pool import PoolTimeout
    except ImportError:  # no pool installed: it cannot be exhausted
        return False
    # Django wraps the pool's error in django.db.OperationalError, the pool's as its cause.
    return isinstance(exc, PoolTimeout) or isinstance(exc.__cause__, PoolTimeout)


def database_unavailable(exc: Exception) -> bool:
    """PostgreSQL refused or dropped the connection (stopped, restarting, network cut)."""
    if isinstance(exc, InterfaceError):
        return True  # a connection that was closed under us ("connection already closed")
    if not isinstance(exc, OperationalError):
        return False
    try:
        import psycopg
    except ImportError:
        return False
    # Only psycopg's connection-level errors: SQLite's OperationalError also covers bugs such as
    # "no such table", which must stay 500s.
    return isinstance(exc.__cause__, (psycopg.OperationalError, psycopg.InterfaceError))


def call_reconnecting(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """func(*args, **kwargs), retried once on a fresh connection if the kept one has broken.
    Inside a transaction there is nothing to retry: a broken connection fails the block. A busy
    database is not a broken connection: retrying would only make the caller wait out the pool
    or lock timeout a second time."""
    try:
        return func(*args, **kwargs)
    except LOST_CONNECTION_ERRORS as exc:
        if connection.in_atomic_block or database_busy(exc):
            raise
        logger.warning("database connection lost (%s: %s); reconnecting and retrying once", type(exc).__name__, exc)
        connection.close()
        return func(*args, **kwargs)


def release_pooled_connection() -> None:
    """Give this thread's connection back to the pool before slow work that needs no database
    (password hashing, a model call), so the pool's DB_POOL_MAX connections serve requests that
    are querying rather than waiting on the CPU or the network (measured at 100 users: logins
    hashing for seconds each held most of the pool and other requests timed out waiting).
    Without a pool (SQLite, DB_POOL_MAX=0) or inside a transaction it does nothing."""
    if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
        connection.close()
