from __future__ import annotations

import contextvars
import copy
import datetime
import uuid
import weakref
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework import serializers
from rest_framework.fields import Field, SkipField
from rest_framework.relations import MANY_RELATION_KWARGS, PKOnlyObject
from rest_framework.settings import api_settings

# How a field's value becomes its representation on the fast path (FastRepresentationMixin).
_AS_IS, _STR, _INT, _BOOL, _UUID, _DATETIME, _PK, _FIELD = range(8)
_MISSING = object()
# The current timezone while a FastListSerializer renders its items: looked up once for the list
# instead of once per item (asgiref's Local behind get_current_timezone: ~26 us a lookup here,
# ~0.5 ms of a 20-row list).
_list_timezone: contextvars.ContextVar = contextvars.ContextVar("fast_list_timezone", default=_MISSING)


def _datetime_representation(field, value, tz):
    """DRF's DateTimeField.to_representation for an ISO 8601 field without its own timezone,
    with the current timezone `tz` looked up by the caller once for the whole object rather than
    by DRF once per value (asgiref's Local: ~10% of a list's serialization). Values DRF treats
    specially (naive ones, which it makes aware and validates; strings; anything not a datetime;
    USE_TZ off) go to the field itself."""
    if tz is None or type(value) is not datetime.datetime or value.tzinfo is None:
        return field.to_representation(value)
    if value.tzinfo is not tz:
        if value.utcoffset() is None:  # a tzinfo that gives no offset: naive, to DRF
            return field.to_representation(value)
        try:
            value = value.astimezone(tz)
        except OverflowError:
            return field.to_representation(value)  # DRF's 'overflow' error
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _step(serializer, field) -> tuple:
    """(field name, attribute to read or None, conversion, field) for one readable field.

    The attribute is read directly only where DRF's Field.get_attribute would read that one
    attribute: a plain field (get_attribute not overridden) with a one-part source, or a
    PrimaryKeyRelatedField on a ModelSerializer (its column, as DRF's pk-only optimisation
    reads it). A conversion other than _FIELD is one whose result equals the field class's
    to_representation, for that exact class only (a subclass may change it)."""
    kind = type(field)
    plain_source = len(field.source_attrs) == 1 and kind.get_attribute is Field.get_attribute
    if kind is serializers.PrimaryKeyRelatedField and field.pk_field is None and len(field.source_attrs) == 1:
        model = getattr(getattr(serializer, "Meta", None), "model", None)
        if model is not None:
            try:
                attname = model._meta.get_field(field.source_attrs[0]).attname
            except FieldDoesNotExist:  # a property, say: DRF's way
                return (field.field_name, None, _FIELD, field)
            return (field.field_name, attname, _PK, field)
    if not plain_source:
        return (field.field_name, None, _FIELD, field)
    conversion = {
        serializers.CharField: _STR, serializers.IntegerField: _INT, serializers.BooleanField: _BOOL,
        serializers.ReadOnlyField: _AS_IS,
    }.get(kind, _FIELD)
    if kind is serializers.UUIDField and field.uuid_format == "hex_verbose":
        conversion = _UUID
    elif (
        kind is serializers.DateTimeField
        and not hasattr(field, "timezone")
        and str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == "iso-8601"
    ):
        conversion = _DATETIME
    return (field.field_name, field.source_attrs[0], conversion, field)


class FastRepresentationMixin:
    """For a Serializer or ModelSerializer: to_representation without DRF's per-value overhead,
    with output equal to DRF's for every field.

    DRF reads each value through Field.get_attribute (a generic walk over the source's parts,
    with a Mapping and a callable check for each), then calls the field's to_representation; a
    DateTimeField looks up the current timezone for every value. On a 20-row list that is most
    of the serialization's CPU. Here each serializer instance compiles, on its first use, one
    step per readable field (see _step): simple fields (CharField, IntegerField, BooleanField,
    UUIDField, ISO 8601 DateTimeField, ReadOnlyField, a ModelSerializer's PrimaryKeyRelatedField)
    read their one attribute and convert it inline, with the timezone looked up once per object;
    every other field (nested serializers, method fields, dotted sources, choices, JSON...) runs
    DRF's get_attribute and to_representation as before. Whenever the direct read does not give
    a plain value (the attribute is missing, a related object does not exist, or the value is
    callable), that field falls back to DRF's get_attribute, so its defaults, SkipField and error
    messages are DRF's. Dict instances take DRF's path whole."""

    def to_representation(self, instance):
        compiled = self.__dict__.get("_representation_steps")
        if compiled is None:
            steps = [_step(self, field) for field in self._readable_fields]
            # One assignment: a serializer shared between request threads (a module-level one
            # used for its to_representation) never shows half of it.
            compiled = self._representation_steps = (steps, any(step[2] == _DATETIME for step in steps))
        if isinstance(instance, Mapping):
            return super().to_representation(instance)
        steps, has_datetimes = compiled
        tz = None
        if has_datetimes and settings.USE_TZ:
            tz = _list_timezone.get()
            if tz is _MISSING:
                tz = timezone.get_current_timezone()
        ret = {}
        for name, attribute, conversion, field in steps:
            # A missing attribute (or a related object that does not exist: Django's error is
            # also an AttributeError) or a callable one: DRF's get_attribute, with its default,
            # None, SkipField or error message.
            value = _MISSING if attribute is None else getattr(instance, attribute, _MISSING)
            if value is _MISSING or callable(value):
                value = _drf_representation(field, instance)
                if value is not _MISSING:
                    ret[name] = value
            elif value is None:
                ret[name] = None
            elif conversion == _DATETIME:
                ret[name] = _datetime_representation(field, value, tz)
            elif conversion == _STR:
                ret[name] = value if type(value) is str else str(value)
            elif conversion == _PK or conversion == _AS_IS:
                ret[name] = value
            elif conversion == _UUID:
                ret[name] = str(value)
            elif conversion == _INT:
                ret[name] = int(value)
            elif conversion == _BOOL and (value is True or value is False):
                ret[name] = value
            else:
                ret[name] = field.to_representation(value)
        return ret

    @classmethod
    def many_init(cls, *args, **kwargs):
        # DRF's own list serializer (not a Meta.list_serializer_class) becomes FastListSerializer.
        serializer = super().many_init(*args, **kwargs)
        if type(serializer) is serializers.ListSerializer:
            serializer.__class__ = FastListSerializer
        return serializer


class FastListSerializer(serializers.ListSerializer):
    """DRF's ListSerializer, with the current timezone looked up once for all its items (see
    _list_timezone); a nested list sets it again to the same value."""

    def to_representation(self, data):
        token = _list_timezone.set(timezone.get_current_timezone() if settings.USE_TZ else None)
        try:
            return super().to_representation(data)
        finally:
            _list_timezone.reset(token)


def _drf_representation(field, instance):
    """One field as DRF's Serializer.to_representation renders it; _MISSING for a SkipField."""
    try:
        value = field.get_attribute(instance)
    except SkipField:
        return _MISSING
    if (value.pk if isinstance(value, PKOnlyObject) else value) is None:
        return None
    return field.to_representation(value)


class BuiltFieldsCacheMixin(FastRepresentationMixin):
    """For a ModelSerializer: the fields it builds from its model are built once per class and
    copied for each instance.

    DRF builds them again for every serializer instance (model introspection, label and
    validator construction, a translation lookup per field): on each list request once for the
    page, on each detail request once. Measured with py-spy, that was 36% of the CPU of a profile
    request and ~8% of a card list's. A copy is what DRF itself makes of declared fields
    (Field.__deepcopy__ re-creates each field from its constructor arguments), so every instance
    still gets its own unbound fields. Only for serializers whose ModelSerializer.get_fields()
    depends on the class alone; a get_fields override that adjusts fields per instance runs on
    the copy, as before. It includes FastRepresentationMixin: the serializers it serves are the
    read-heavy list ones.

    The copy of a simple field is a shallow one (see _copy_field): re-running its constructor,
    as Field.__deepcopy__ does, collected its error messages over its class hierarchy again and
    rebuilt its validators, ~5% of a card list's CPU."""

    _built_fields: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get_fields(self):
        built = BuiltFieldsCacheMixin._built_fields.get(type(self))
        if built is None:
            built = {name: (field, _copier(field)) for name, field in super().get_fields().items()}
            BuiltFieldsCacheMixin._built_fields[type(self)] = built
        return {name: copy_field(field) for name, (field, copy_field) in built.items()}


_COPIED_CONTAINERS = (dict, list, set)


def _copier(field):
    """How a field from the cache is copied for each serializer instance, decided once per
    cached field rather than for every field of every request.

    A copy shares the cached field's attributes except its containers (error messages,
    validators, choices, constructor arguments), which are copied one level, so that an instance
    that adjusts its field (a get_fields override setting read_only, appending a validator)
    changes only its own. Validators themselves are shared, as Field.__deepcopy__ shares them.
    A field holding child fields it bound to itself (ListField's child, DictField's,
    ManyRelatedField's child_relation) gets copies of them bound to the copy: DRF's deep copy
    re-ran both constructors, building their validators again (~9% of a card list's CPU for one
    ListField(child=CharField(max_length=...))). A related field's queryset is shared only when it
    is empty by construction (`.none()`, which ScopedPrimaryKeyRelatedField keeps for the schema
    alone); any other is copied DRF's way, so that no result cache is shared. Nested serializers
    are copied DRF's way."""
    state = field.__dict__
    if isinstance(field, serializers.BaseSerializer):
        return copy.deepcopy
    queryset = state.get("queryset")
    if queryset is not None and not (hasattr(queryset, "query") and queryset.query.is_empty()):
        return copy.deepcopy
    children = [key for key, value in state.items() if isinstance(value, Field)]
    if any(getattr(state[key], "parent", None) is not field or isinstance(state[key], serializers.BaseSerializer)
           for key in children):
        return copy.deepcopy  # fields it holds but did not bind: DRF's way
    containers = [key for key, value in state.items() if type(value) in _COPIED_CONTAINERS]
    child_copiers = [(key, _copier(state[key])) for key in children]

    def copy_field(field):
        copied = object.__new__(type(field))
        copied.__dict__ = copied_state = field.__dict__.copy()
        for key in containers:
            copied_state[key] = copied_state[key].copy()
        for key, copy_child in child_copiers:
            child = copied_state[key] = copy_child(copied_state[key])
            child.parent = copied  # as its constructor bound it (field name "")
        return copied

    return copy_field


class OrderedDatesMixin:
    """start_date/end_date in order, checked against the instance's values on partial updates."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        start = attrs.get("start_date", getattr(self.instance, "start_date", None))
        end = attrs.get("end_date", getattr(self.instance, "end_date", None))
        if start and end and end < start:
            raise serializers.ValidationError({"end_date": ["The end date must not be before the start date."]})
        return attrs


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id, in a request body, of an object the caller may see.

    `selector(user=...)` returns the caller's visible queryset (the same selectors the views use
    for their 404s), so another user's object fails exactly like one that does not exist:
    400 'Invalid pk "<id>" - object does not exist.' either way, revealing nothing. `model` names
    the objects' model for the OpenAPI schema. `as_pk=True` validates to the object's pk instead
    of the object (for services that store ids). `many=True` looks all ids up in one query.
    Needs the request in the serializer context (views pass get_serializer_context()).
    """

    def __init__(self, *, selector, model, as_pk: bool = False, **kwargs):
        self.selector, self.model, self.as_pk = selector, model, as_pk
        super().__init__(**kwargs)
        # The schema generator reads the pk type from here; lookups always go through get_queryset().
        self.queryset = model._default_manager.none()

    @classmethod
    def many_init(cls, *args, **kwargs):
        list_kwargs = {"max_length": kwargs.pop("max_length", None)}
        for key in MANY_RELATION_KWARGS:
            if key in kwargs:
                list_kwargs[key] = kwargs[key]
        list_kwargs["child_relation"] = cls(*args, **{k: v for k, v in kwargs.items() if k not in ("allow_empty", "help_text")})
        return _ScopedManyRelatedField(**list_kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.model._default_manager.none()
        return self.selector(user=user)

    def parse_pk(self, data):
        """The id in the model's pk type; fails with 'incorrect_type' for a malformed one."""
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            pk = self.model._meta.pk.to_python(data)
        except (DjangoValidationError, TypeError, ValueError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if isinstance(pk, int) and not 0 < pk < 2**63:  # past the database's integers: none such
            self.fail("does_not_exist", pk_value=data)
        return pk

    def to_internal_value(self, data):
        pk = self.parse_pk(data)
        obj = self.get_queryset().filter(pk=pk).first()
        if obj is None:
            self.fail("does_not_exist", pk_value=data)
        return obj.pk if self.as_pk else obj

    def to_representation(self, value):
        pk = getattr(value, "pk", value)  # as_pk fields hold plain ids
        return str(pk) if isinstance(pk, uuid.UUID) else pk


class _ScopedManyRelatedField(serializers.ManyRelatedField):
    def __init__(self, *, max_length: int | None = None, **kwargs):
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        child = self.child_relation
        if isinstance(data, (str, dict)) or not hasattr(data, "__iter__"):
            self.fail("not_a_list", input_type=type(data).__name__)
        data = list(data)
        if not self.allow_empty and not data:
            self.fail("empty")
        if self.max_length is not None and len(data) > self.max_length:
            raise serializers.ValidationError(f"Ensure this field has no more than {self.max_length} elements.")
        pks = [child.parse_pk(item) for item in data]
        found = {obj.pk: obj for obj in child.get_queryset().filter(pk__in=set(pks))}
        for item, pk in zip(data, pks, strict=True):
            if pk not in found:
                child.fail("does_not_exist", pk_value=item)
        unique = list(dict.fromkeys(pks))  # the same id twice means it once
        return unique if child.as_pk else [found[pk] for pk in unique]
