"""The web-chat dialect's sessions list: the message/response pairs of a page of sessions, read in
one query and turned into the response's dicts in one pass.

A page of 20 sessions shows 160 pairs (171 KB). Building a ChatPair per row through Django's
converters (a UUID object for two ids and an aware datetime per row) and then serializing each
through MessagePairSerializer was about 70% of the list's CPU. Here the rows come from the cursor
as the database driver returns them, and each value becomes the string DRF would have written:

- a UUID column: PostgreSQL's driver gives a UUID, SQLite the 32 hex digits Django stores there;
  the text is str(uuid.UUID(value)), computed the way uuid.UUID computes it;
- a datetime: when the database, the current timezone and the output are all UTC ISO 8601 (the
  project's settings), the driver's naive UTC value (SQLite) or UTC-aware one (PostgreSQL) is
  written as DRF writes it (isoformat with 'Z').

Any other value or setting (another timezone, USE_TZ off, a custom DATETIME_FORMAT, a value in an
unexpected form) takes the whole row through Django's own converters and DRF's fields, so the
answer is always the one MessagePairSerializer gives over ChatPair (tests/chat/test_list_responses.py
checks both paths against it).

The SQL is compiled once per connection and number of sessions (a page holds at most 100): only the
session ids are bound per request.
"""

from __future__ import annotations

import datetime
import operator
import uuid

import orjson
from django.db import connections, router
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.settings import api_settings

from tutorhub.chat.models import Message
from tutorhub.core.compiled import connection_plan

# The row: the session it belongs to, then MessagePairSerializer's fields in its order.
_COLUMNS = ("session_id", "id", "content", "created_at", "reply__content", "reply__is_complete")
_NAMES = tuple(f"c{n}" for n in range(len(_COLUMNS)))  # the columns' names in the SQL
_ZERO = datetime.timedelta(0)
_SQLITE_ORDER = operator.itemgetter(3, 1)  # created_at, id: the query's ORDER BY
_DATETIME = serializers.DateTimeField()  # DRF's own representation, for the general path


class _Plan:
    """The pairs query for `count` sessions on one connection: SQL, where the ids go, converters."""

    def __init__(self, alias: str, count: int):
        connection = connections[alias]
        # Stand-in ids: the SQL depends on how many sessions there are, not on which.
        stand_ins = [uuid.UUID(int=n + 1) for n in range(count)]
        queryset = (
            Message.objects.using(alias)
            .filter(session_id__in=stand_ins, role=Message.Role.USER)
            .order_by("created_at", "id")
            .values(**{name: F(column) for name, column in zip(_NAMES, _COLUMNS, strict=True)})
        )
        self.compiler = queryset.query.get_compiler(using=alias)
        self.sql, params = self.compiler.as_sql()
        self.one_row = connection.vendor == "sqlite"
        if self.one_row:
            # SQLite: every row of the page in one JSON array in one row (see `_fetch`).
            self.sql = f"SELECT json_group_array(json_array({', '.join(_NAMES)})) FROM ({self.sql})"
        self.session_field = Message._meta.get_field("session")
        expected = [Message.Role.USER, *(self.session_field.get_db_prep_value(i, connection) for i in stand_ins)]
        if list(params) != expected:  # the ORM changed how it lays this query out: bind nothing blindly
            raise RuntimeError(f"unexpected parameters for the pairs query: {params!r}")
        self.role = params[0]
        self.converters = self.compiler.get_converters([column for column, _, _ in self.compiler.select])


def _plan(alias: str, count: int) -> _Plan:
    return connection_plan(alias, ("web-chat pairs", count), lambda: _Plan(alias, count))


def _uuid_text(value) -> str | None:
    """str(uuid.UUID(value)) for SQLite's 32 hex digits, parsed as uuid.UUID parses them; None for
    any other form (the general path's)."""
    if type(value) is not str or len(value) != 32 or value[0] == "-":
        return None  # ('-': uuid.UUID strips it and then rejects the 31 digits left; its error)
    number = int(value, 16)  # uuid.UUID's own parse of 32 digits (and its ValueError for others)
    digits = f"{number:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _utc_text(value) -> str | None:
    """DRF's ISO 8601 text of a UTC datetime as the driver gives it: naive (SQLite, whose
    connection's timezone is UTC) or aware at offset zero; None for anything else."""
    if type(value) is not datetime.datetime:
        return None
    if value.tzinfo is None:
        return value.isoformat() + "Z"
    if value.utcoffset() == _ZERO:
        return value.isoformat()[:-6] + "Z"
    return None


def _pair_general(plan: _Plan, row: tuple) -> dict:
    """One row the way the ORM and MessagePairSerializer make it: Django's converters, then DRF's fields."""
    if plan.converters:
        row = next(iter(plan.compiler.apply_converters([row], plan.converters)))
    _, pk, message, created_at, response, is_complete = row
    return {
        "id": str(pk),
        "message": str(message),
        "response": None if response is None else str(response),
        "created_at": None if created_at is None else _DATETIME.to_representation(created_at),
        "is_complete": bool(is_complete),
    }


def _fetch(plan: _Plan, connection, params: list) -> list[tuple]:
    """The pairs' rows as the database driver gives them.

    On SQLite they arrive as one JSON array in one row, then sorted as the query orders them (its
    created_at text, then the id's hex digits). Python's sqlite3 module lets go of the interpreter
    lock for every row it steps through, and with a server's request threads waiting for the lock
    each of a page's 160 rows became a hand-over between threads: 1,291 context switches and 6.5
    ms of system CPU per request at 20 clients, against 9 for one client (benchmarks/http_api.py).
    The JSON values are the ones the driver returns (text, integers, null), so the rest of the
    path does not change."""
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, params)
        if not plan.one_row:
            return cursor.fetchall()
        (packed,) = cursor.fetchone()
    # The driver parses a datetime column itself (Django registers parse_datetime for SQLite's
    # "datetime" type); inside JSON it stays text, so it is parsed here the same way. The sort
    # uses the text, as the query's ORDER BY does.
    packed_rows = sorted(orjson.loads(packed), key=_SQLITE_ORDER)
    return [
        (session, pk, message, None if created_at is None else parse_datetime(created_at), response, complete)
        for session, pk, message, created_at, response, complete in packed_rows
    ]


def sessions_attach_pairs(sessions) -> None:
    """Set `pairs` on each session: its message/response pairs, oldest first, as the dicts
    MessagePairSerializer makes of them (the web-chat `chats`), read for all of them in one query."""
    sessions = list(sessions)
    for session in sessions:
        session.pairs = []
    if not sessions:
        return  # no query: an empty IN matches nothing
    alias = router.db_for_read(Message)
    connection = connections[alias]
    plan = _plan(alias, len(sessions))
    prep = plan.session_field.get_db_prep_value
    by_key = {prep(session.pk, connection): session.pairs for session in sessions}
    rows = _fetch(plan, connection, [plan.role, *by_key])
    # Times are written the fast way only when the database's values are UTC (connection.timezone
    # is UTC only with USE_TZ on and no database TIME_ZONE), DRF writes them in UTC (the current
    # timezone) and its format is ISO 8601; that holds for the whole request or not at all.
    current = timezone.get_current_timezone() if connection.timezone is datetime.UTC else None
    utc_times = (
        (current is datetime.UTC or getattr(current, "key", None) == "UTC")
        and str(api_settings.DATETIME_FORMAT).lower() == "iso-8601"
    )
    for row in rows:
        session_key, pk, message, created_at, response, is_complete = row
        id_text = str(pk) if type(pk) is uuid.UUID else _uuid_text(pk)
        time_text = _utc_text(created_at) if utc_times else None
        if id_text is None or time_text is None:
            by_key[session_key].append(_pair_general(plan, row))
        else:
            by_key[session_key].append(
                {"id": id_text, "message": message, "response": response, "created_at": time_text,
                 "is_complete": bool(is_complete)}
            )
