"""PostgreSQL connection pool (issue 12): connections are bounded by DB_POOL_MAX per process,
whatever the number of threads, and returned when Django closes them."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, connections
from psycopg_pool import PoolTimeout
from rest_framework.views import APIView

from tutorhub.core.exceptions import exception_handler
from tutorhub.settings import DATABASES as PRODUCTION_DATABASES

postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the pool is PostgreSQL's")


def _backends() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@postgresql_only
def test_production_settings_pool_postgresql_connections():
    db = PRODUCTION_DATABASES["default"]
    assert db["CONN_MAX_AGE"] == 0  # Django refuses persistent connections with a pool
    assert db["OPTIONS"]["pool"]["min_size"] <= db["OPTIONS"]["pool"]["max_size"]
    assert connection.pool is not None and connection.pool.max_size == db["OPTIONS"]["pool"]["max_size"]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_forty_threads_share_at_most_max_size_connections():
    max_size = connection.pool.max_size
    threads_n = 4 * max_size
    barrier, peak, errors, lock = threading.Barrier(threads_n), [0], [], threading.Lock()

    def work():
        try:
            barrier.wait(timeout=30)
            for _ in range(5):
                with connection.cursor() as cursor:  # this thread's connection, from the pool
                    cursor.execute("SELECT pg_sleep(0.02)")
                seen = _backends()
                with lock:
                    peak[0] = max(peak[0], seen)
                connection.close()  # as Django does at the end of each request: back to the pool
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    # This process's pool plus the main thread's own (test) connection, nothing per thread.
    assert 0 < peak[0] <= max_size + 1, peak[0]


def test_an_exhausted_pool_or_a_busy_sqlite_is_a_503_with_retry_after_not_a_500():
    # What Django raises when getconn() times out: its OperationalError caused by the pool's.
    try:
        try:
            raise PoolTimeout("couldn't get a connection after 30.00 sec")
        except PoolTimeout as cause:
            raise OperationalError(str(cause)) from cause
    except OperationalError as exc:
        response = exception_handler(exc, {"view": APIView()})
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.data["error_code"] == "DATABASE_BUSY"
    locked = exception_handler(OperationalError("database is locked"), {"view": APIView()})  # SQLite's busy_timeout
    assert locked.status_code == 503 and locked.data["error_code"] == "DATABASE_BUSY"
    other = exception_handler(OperationalError("server closed the connection"), {"view": APIView()})
    assert other.status_code == 500  # only waiting too long for the database is overload


def test_a_refused_or_dropped_postgresql_connection_is_a_503_database_unavailable():
    psycopg = pytest.importorskip("psycopg")
    from django.db import InterfaceError

    # What Django raises when PostgreSQL is stopped: its OperationalError caused by psycopg's.
    try:
        try:
            raise psycopg.OperationalError('connection to server at "127.0.0.1" failed: Connection refused')
        except psycopg.OperationalError as cause:
            raise OperationalError(str(cause)) from cause
    except OperationalError as exc:
        response = exception_handler(exc, {"view": APIView()})
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.data["error_code"] == "DATABASE_UNAVAILABLE"
    closed = exception_handler(InterfaceError("connection already closed"), {"view": APIView()})
    assert closed.status_code == 503 and closed.data["error_code"] == "DATABASE_UNAVAILABLE"
    # SQLite's OperationalError also means bugs ("no such table"): those stay 500s.
    bug = exception_handler(OperationalError("no such table: chat_message"), {"view": APIView()})
    assert bug.status_code == 500


def test_a_busy_database_is_not_retried_on_a_fresh_connection():
    """Reconnecting cures a dead connection, not a taken lock or an exhausted pool: a second try
    would only make the caller wait out the same timeout twice."""
    from django.db import OperationalError

    from tutorhub.core.db import call_reconnecting

    calls = []

    def locked():
        calls.append(1)
        raise OperationalError("database is locked")

    with pytest.raises(OperationalError):
        call_reconnecting(locked)
    assert len(calls) == 1
