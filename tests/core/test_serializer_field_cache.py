"""BuiltFieldsCacheMixin: a ModelSerializer's model fields are built once per class; each
instance gets its own copies, equal to what DRF would have built."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from tutorhub.accounts.serializers import UserProfileSerializer
from tutorhub.assessments.serializers import FlashcardSerializer
from tutorhub.chat.serializers import ChatSessionSerializer
from tutorhub.core.serializers import BuiltFieldsCacheMixin


@pytest.mark.parametrize("serializer_class", [UserProfileSerializer, FlashcardSerializer, ChatSessionSerializer])
def test_the_copied_fields_are_the_ones_drf_builds(serializer_class):
    built = serializers.ModelSerializer.get_fields(serializer_class())  # DRF's own, uncached
    BuiltFieldsCacheMixin.get_fields(serializer_class())  # fills the cache
    fields = BuiltFieldsCacheMixin.get_fields(serializer_class())  # a copy from it
    assert list(fields) == list(built)
    for name, field in fields.items():
        assert type(field) is type(built[name]), name
        assert repr(field) == repr(built[name]), name


def test_each_instance_gets_its_own_unbound_fields():
    first, second = UserProfileSerializer(), UserProfileSerializer()
    assert first.fields["bio"] is not second.fields["bio"]
    assert first.fields["bio"].parent is first and second.fields["bio"].parent is second
    cached = BuiltFieldsCacheMixin._built_fields[UserProfileSerializer]
    assert all(getattr(field, "parent", None) is None for field in cached.values())  # never bound


def test_a_get_fields_override_still_adjusts_each_instance():
    # ChatSessionSerializer makes `status` read-only for a new chat only.
    assert ChatSessionSerializer().fields["status"].read_only is True
    assert ChatSessionSerializer(instance=object()).fields["status"].read_only is False
    assert ChatSessionSerializer().fields["status"].read_only is True
