from __future__ import annotations

import copy
import uuid
import weakref

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS


class BuiltFieldsCacheMixin:
    """For a ModelSerializer: the fields it builds from its model are built once per class and
    copied for each instance.

    DRF builds them again for every serializer instance (model introspection, label and
    validator construction, a translation lookup per field): on each list request once for the
    page, on each detail request once. Measured with py-spy, that was 36% of the CPU of a profile
    request and ~8% of a card list's. A copy is what DRF itself makes of declared fields
    (Field.__deepcopy__ re-creates each field from its constructor arguments), so every instance
    still gets its own unbound fields. Only for serializers whose ModelSerializer.get_fields()
    depends on the class alone; a get_fields override that adjusts fields per instance runs on
    the copy, as before."""

    _built_fields: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get_fields(self):
        built = BuiltFieldsCacheMixin._built_fields.get(type(self))
        if built is None:
            built = BuiltFieldsCacheMixin._built_fields[type(self)] = super().get_fields()
        return copy.deepcopy(built)


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
