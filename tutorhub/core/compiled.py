"""Compiled list queries: build and compile a queryset once per shape, then bind each request's values.

A list request spent about a fifth of its CPU building its selector's queryset and compiling it to
SQL, the same SQL every time but for the caller's id (issue 17). `CompiledQuery` builds the
queryset once per *shape* and database connection, keeps the SQL and the compiler's row layout,
and for each request only binds the values and turns the rows into model instances the way
Django's ModelIterable does (annotations, select_related, prefetch_related and the related
manager's known objects included).

Django has no public API for this (prepared statements are a long-standing open ticket), so the
helper is built to fail loudly rather than serve a wrong query:

- Every value the SQL depends on is a declared parameter: a model instance (the user, a chat),
  replaced at build time by a stand-in that carries only its primary key (a sentinel) and the
  declared `shape` fields, which are part of the cache key (a user's role changes which courses
  the SQL looks at); or a `Scalar` of one type (an id from the URL), replaced by a sentinel. Reading any other field of a stand-in would load it from the database, and
  building runs with every query refused, so a builder that depends on anything undeclared fails
  at build time instead of caching a query for the wrong user.
- The queryset is built and compiled twice with different sentinels. The two SQL strings must be
  identical and the parameter lists may differ only where a sentinel sits (as itself or as the
  hex/str form a backend sends): those positions are where the request's values go. A value
  inlined into the SQL, or transformed on the way in, fails this check.
- Pages are LIMIT/OFFSET parameters appended to the unsliced query, so the page size and number
  are not part of the shape.

What the checks cannot see, and a builder must therefore not do: read a value that is neither a
parameter nor a shape field and is the same in both builds (today's date, a setting that changes
at run time); it would be frozen into the plan. Filters, search and ordering from the query
string are not parameters either: paginate_compiled leaves such requests to DRF's path.

Plans are cached per database connection (converters and populators belong to one connection)
and dropped when a setting changes (tests override USE_TZ, DATABASES, ...).

Usage (a view's list):

    FLASHCARDS = CompiledQuery("flashcards", lambda user: flashcard_list(user=user), user=("role", "is_superuser"))
    cards = FLASHCARDS.page(limit=20, offset=0, user=request.user)
    total = FLASHCARDS.count(user=request.user)

`core.pagination.StandardPagination.paginate_compiled` runs a page and, only when it needs it,
the count; `CompiledListMixin` gives a DRF viewset's plain list (no filter, search or ordering
parameter) that path.
"""

from __future__ import annotations

import inspect
import operator
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query import ModelIterable, get_related_populators, prefetch_related_objects
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

# Two sentinel primary keys per parameter, far from any id a test or a site creates, inside a
# 32-bit integer column's range, one odd and one even. Parameter i uses _INT_SENTINELS[k] + 2 * i.
_INT_SENTINELS = (2_000_000_011, 2_000_000_512)
# Backends that take "LIMIT %s OFFSET %s" after the ORDER BY (the two this project supports).
_LIMIT_OFFSET_VENDORS = frozenset({"sqlite", "postgresql"})
# Plans per shape kept per connection; shapes are few (a query × a user's role), this only bounds a mistake.
_MAX_PLANS = 256


class _QueryRefused(Exception):
    pass


def _refuse_queries(execute, sql, params, many, context):
    raise _QueryRefused(sql)


@dataclass(frozen=True)
class Scalar:
    """A parameter that is a value rather than a model instance: an int or a uuid.UUID."""

    type: type

    def __post_init__(self):
        if self.type not in (int, uuid.UUID):
            raise ImproperlyConfigured(f"Scalar parameters are int or uuid.UUID, not {self.type!r}")


def _sentinel(kind: type, index: int, which: int):
    base = _INT_SENTINELS[which] + 2 * index
    return uuid.UUID(int=base) if kind is uuid.UUID else base


def _pk_kind(model: type[Model]) -> type:
    internal = model._meta.pk.get_internal_type()
    if internal == "UUIDField":
        return uuid.UUID
    if internal in ("AutoField", "BigAutoField", "IntegerField", "BigIntegerField", "SmallAutoField"):
        return int
    raise ImproperlyConfigured(f"CompiledQuery: no sentinel for a {internal} primary key ({model.__name__})")


# How a sentinel may appear among the compiled parameters: as itself, or as the form a backend
# sends a UUID in (SQLite stores UUIDs as 32 hex digits).
_FORMS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("value", lambda v: v),
    ("hex", lambda v: v.hex if isinstance(v, uuid.UUID) else object()),
    ("str", str),
)
_FORM_OF = dict(_FORMS)


@dataclass(frozen=True)
class _Plan:
    sql: str  # unsliced, with "LIMIT %s OFFSET %s" appended
    count_sql: str
    params: tuple  # constants, with the slots below overwritten per request
    slots: tuple[tuple[int, str, str], ...]  # (position, parameter name, form)
    count_params: tuple
    count_slots: tuple[tuple[int, str, str], ...]
    compiler: Any  # keeps the connection's converters and the select layout
    converters: dict
    model: type[Model]
    init_list: tuple[str, ...]
    plain_from_db: Callable | None  # see _plain_from_db; None where Django's from_db must run
    fields_start: int
    fields_end: int
    populators: tuple
    annotation_col_map: dict
    col_count: int
    known_related: tuple  # (field, parameter name, getter of the row's key)
    prefetch: tuple


class CompiledQuery:
    """A list query compiled once per shape and connection; see the module docstring.

    `build(**stand_ins)` returns the queryset for the given parameter objects. Each keyword
    argument of the constructor (besides name and build) declares one parameter: either a tuple,
    for a model instance at call time, of the names of the fields its SQL may depend on (they
    make up the shape); or a Scalar, for a value of that type.
    """

    def __init__(self, name: str, build: Callable[..., QuerySet], **params: tuple[str, ...] | Scalar):
        self.name = name
        self.build = build
        self._specs = params
        self._orderings: dict[tuple[str, ...], CompiledQuery] = {}
        self.scalars = {key: spec.type for key, spec in params.items() if isinstance(spec, Scalar)}
        self.params = {key: () if isinstance(spec, Scalar) else tuple(spec) for key, spec in params.items()}

    def __repr__(self) -> str:
        return f"<CompiledQuery {self.name}>"

    def ordered_by(self, *terms: str) -> CompiledQuery:
        """This query with order_by(*terms), as DRF's OrderingFilter orders it: one CompiledQuery
        (and so one plan per shape) per ordering. Callers pass orderings they have validated
        against a fixed list of fields, which bounds how many there are."""
        query = self._orderings.get(terms)
        if query is None:
            query = self._orderings[terms] = CompiledQuery(
                f"{self.name} ordered by {','.join(terms)}", lambda **values: self.build(**values).order_by(*terms),
                **self._specs,
            )
        return query

    # -- per request ---------------------------------------------------------------------------

    def page(self, *, limit: int, offset: int, using: str = DEFAULT_DB_ALIAS, **values) -> list[Model]:
        """The rows [offset, offset + limit) of the query for `values`, as model instances."""
        plan = self._plan(using, values)
        params = self._bind(plan.params, plan.slots, values)
        params.extend((limit, offset))
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(plan.sql, params)
            rows = cursor.fetchall()
        if plan.converters:
            rows = plan.compiler.apply_converters(rows, plan.converters)
        objs = []
        model = plan.model
        if plan.plain_from_db is not None and not (pre_init.has_listeners(model) or post_init.has_listeners(model)):
            from_db = plan.plain_from_db
        else:
            from_db = model.from_db
        start, end, col_count = plan.fields_start, plan.fields_end, plan.col_count
        for row in rows:
            row = row[:col_count]
            obj = from_db(using, plan.init_list, row[start:end])
            for populator in plan.populators:
                populator.populate(row, obj)
            for attr_name, position in plan.annotation_col_map.items():
                setattr(obj, attr_name, row[position])
            for field, key, getter in plan.known_related:
                known = values[key]
                if not field.is_cached(obj) and getter(obj) == known.pk:
                    setattr(obj, field.name, known)
            objs.append(obj)
        if plan.prefetch and objs:
            prefetch_related_objects(objs, *plan.prefetch)
        return objs

    def count(self, *, using: str = DEFAULT_DB_ALIAS, **values) -> int:
        """How many rows the query has for `values` (queryset.count())."""
        plan = self._plan(using, values)
        with connections[using].cursor() as cursor:
            cursor.execute(plan.count_sql, self._bind(plan.count_params, plan.count_slots, values))
            return cursor.fetchone()[0]

    def _bind(self, constants: tuple, slots: tuple, values: dict) -> list:
        params = list(constants)
        for position, name, form in slots:
            value = values[name]
            params[position] = _FORM_OF[form](value if name in self.scalars else value.pk)
        return params

    def _plan(self, using: str, values: dict) -> _Plan:
        if values.keys() != self.params.keys():
            raise TypeError(f"{self!r} takes {sorted(self.params)}, got {sorted(values)}")
        for name, kind in self.scalars.items():
            # The SQL was compiled for this type (SQLite sends a UUID as hex, a str as itself).
            if type(values[name]) is not kind:
                raise TypeError(f"{self!r}: {name} must be a {kind.__name__}, not {type(values[name]).__name__}")
        key = (self, *(tuple(getattr(values[name], f) for f in shape) for name, shape in self.params.items()))
        return connection_plan(using, key, lambda: self._compile(using, values))

    # -- once per shape ------------------------------------------------------------------------

    def _stand_ins(self, using: str, values: dict, which: int) -> dict:
        stand_ins = {}
        for index, (name, shape) in enumerate(self.params.items()):
            if name in self.scalars:
                stand_ins[name] = _sentinel(self.scalars[name], index, which)
                continue
            model = type(values[name])
            names = [model._meta.pk.attname, *shape]
            row = [_sentinel(_pk_kind(model), index, which), *(getattr(values[name], f) for f in shape)]
            stand_ins[name] = model.from_db(using, names, row)
        return stand_ins

    @staticmethod
    def _key_of(value):
        return value if isinstance(value, int | uuid.UUID) else value.pk

    def _build(self, using: str, stand_ins: dict[str, Model]) -> QuerySet:
        connection = connections[using]
        try:
            # Nothing may be read while building: a query here would mean the SQL depends on
            # data (or on a stand-in's undeclared field), which a cached plan would then freeze.
            with connection.execute_wrapper(_refuse_queries):
                queryset = self.build(**stand_ins).using(using)
        except _QueryRefused as exc:
            raise ImproperlyConfigured(
                f"{self!r}: building the queryset ran a query ({exc}); declare the fields it reads as shape fields"
            ) from None
        query = queryset.query
        if queryset._iterable_class is not ModelIterable or query.is_sliced or query.combinator or query.select_for_update:
            raise ImproperlyConfigured(f"{self!r}: only unsliced model querysets can be compiled")
        if any(getattr(lookup, "queryset", None) is not None for lookup in queryset._prefetch_related_lookups):
            # A Prefetch's own queryset runs per request outside the compiled SQL: a stand-in's
            # sentinel in it would never be replaced by the request's value.
            raise ImproperlyConfigured(f"{self!r}: prefetch_related with a Prefetch queryset cannot be compiled")
        return queryset

    def _compile(self, using: str, values: dict[str, Model]) -> _Plan:
        connection = connections[using]
        if connection.vendor not in _LIMIT_OFFSET_VENDORS:
            raise ImproperlyConfigured(f"{self!r}: no LIMIT/OFFSET form for {connection.vendor}")
        builds = [self._build(using, self._stand_ins(using, values, which)) for which in (0, 1)]
        sentinels = [{n: self._key_of(s) for n, s in self._stand_ins(using, values, which).items()} for which in (0, 1)]
        compilers = [qs.query.get_compiler(using=using) for qs in builds]
        compiled = [c.as_sql() for c in compilers]
        counted = [qs.order_by().values("pk").query.get_compiler(using=using).as_sql() for qs in builds]
        params, slots = self._slots(compiled, sentinels)
        count_params, count_slots = self._slots(counted, sentinels)

        queryset, compiler = builds[0], compilers[0]
        klass_info, select = compiler.klass_info, compiler.select
        select_fields = klass_info["select_fields"]
        stand_in_keys = {s.pk: n for n, s in self._stand_ins(using, values, 0).items() if n not in self.scalars}
        known_related = []
        for field, objs in queryset._known_related_objects.items():
            # The related manager's own object (a chat's messages know their chat): the stand-in
            # there becomes the request's object.
            if len(objs) != 1 or next(iter(objs)) not in stand_in_keys:
                raise ImproperlyConfigured(f"{self!r}: known related objects other than a parameter")
            attnames = [field.attname if f == "self" else queryset.model._meta.get_field(f).attname for f in field.from_fields]
            known_related.append((field, stand_in_keys[next(iter(objs))], operator.attrgetter(*attnames)))
        fields = [s[0] for s in select[: compiler.col_count]]
        init_list = tuple(f[0].target.attname for f in select[select_fields[0]: select_fields[-1] + 1])
        return _Plan(
            sql=f"{compiled[0][0]} LIMIT %s OFFSET %s",
            count_sql=f"SELECT COUNT(*) FROM ({counted[0][0]}) subquery",
            params=params,
            slots=slots,
            count_params=count_params,
            count_slots=count_slots,
            compiler=compiler,
            converters=compiler.get_converters(fields),
            model=klass_info["model"],
            init_list=init_list,
            plain_from_db=_plain_from_db(klass_info["model"]) if _plain_init(klass_info["model"], init_list) else None,
            fields_start=select_fields[0],
            fields_end=select_fields[-1] + 1,
            populators=tuple(get_related_populators(klass_info, select, using)),
            annotation_col_map=dict(compiler.annotation_col_map or {}),
            col_count=compiler.col_count,
            known_related=tuple(known_related),
            prefetch=tuple(queryset._prefetch_related_lookups),
        )

    def _slots(self, compiled: list[tuple[str, tuple]], sentinels: list[dict]) -> tuple[tuple, tuple]:
        """The constant parameters and where each request value goes, from two builds that differ
        only in their sentinels; anything else that differs is an error."""
        (sql_a, params_a), (sql_b, params_b) = compiled
        if sql_a != sql_b or len(params_a) != len(params_b):
            raise ImproperlyConfigured(f"{self!r}: the SQL depends on a parameter's value, not only on its shape")
        slots = []
        for position, (a, b) in enumerate(zip(params_a, params_b, strict=True)):
            matches = [
                (name, form) for name in self.params for form, convert in _FORMS
                if _same(a, convert(sentinels[0][name])) and _same(b, convert(sentinels[1][name]))
            ]
            if a == b and not matches:
                if any(_same(a, convert(s)) for which in sentinels for s in which.values() for _, convert in _FORMS):
                    raise ImproperlyConfigured(f"{self!r}: a constant parameter equals a sentinel")
                continue
            if len(matches) != 1:
                raise ImproperlyConfigured(f"{self!r}: parameter {position} differs between builds but is no sentinel")
            slots.append((position, *matches[0]))
        # A parameter may go unused (an admin's quizzes are all quizzes): equal SQL and equal
        # constants from both builds mean the rows do not depend on it.
        return tuple(params_a), tuple(slots)


# Class attributes of a concrete field that only read the instance's __dict__ (or, for a foreign
# key's id, clear a cached related object, of which a new instance has none).
_PLAIN_DESCRIPTORS = (DeferredAttribute, ForeignKeyDeferredAttribute)


def _plain_init(model: type[Model], attnames: tuple[str, ...]) -> bool:
    """Whether Model.from_db for these columns only stores the values in the instance's
    __dict__: the model overrides neither from_db nor __init__, and no selected field has a
    descriptor that does more on assignment. (Signal receivers are checked per page.)"""
    return (
        model.from_db.__func__ is Model.from_db.__func__
        and model.__init__ is Model.__init__
        and all(type(inspect.getattr_static(model, name, None)) in _PLAIN_DESCRIPTORS for name in attnames)
    )


def _plain_from_db(model: type[Model]) -> Callable[[str, tuple, tuple], Model]:
    """Model.from_db for a model that passes _plain_init and has no pre_init/post_init
    receivers: the same instance, built without Model.__init__'s generic walk and its two signal
    sends per row (~5% of a 20-card list request's CPU, py-spy)."""
    new = object.__new__

    def from_db(using: str, attnames: tuple[str, ...], values: tuple) -> Model:
        obj = new(model)
        state = obj._state = ModelState()
        state.adding, state.db = False, using
        obj.__dict__.update(zip(attnames, values, strict=True))
        return obj

    return from_db


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def connection_plan(using: str, key, build: Callable[[], Any]):
    """The plan cached under `key` for the connection `using` (this thread's), built by `build()`
    the first time. Plans belong to one connection (its converters and populators) and are
    dropped when a setting changes; chat.pairs keeps its hand-built pairs query here too."""
    plans = _PLANS.setdefault(connections[using], {})
    plan = plans.get(key)
    if plan is None:
        if len(plans) >= _MAX_PLANS:
            plans.clear()
        plan = plans[key] = build()
    return plan


def _forget_plans(**kwargs) -> None:
    # A changed setting (USE_TZ, DATABASES, ...) can change the SQL or its converters.
    _PLANS.clear()


setting_changed.connect(_forget_plans)
