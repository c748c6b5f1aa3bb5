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
    assert all(getattr(field, "parent", None) is None for field, _copy in cached.values())  # never bound


def test_a_get_fields_override_still_adjusts_each_instance():
    # ChatSessionSerializer makes `status` read-only for a new chat only.
    assert ChatSessionSerializer().fields["status"].read_only is True
    assert ChatSessionSerializer(instance=object()).fields["status"].read_only is False
    assert ChatSessionSerializer().fields["status"].read_only is True


def test_a_list_fields_child_is_copied_with_it_and_bound_to_the_copy():
    first, second = FlashcardSerializer(), FlashcardSerializer()
    tags, other = first.fields["tags"], second.fields["tags"]
    assert tags.child is not other.child
    assert tags.child.parent is tags and other.child.parent is other
    assert tags.child.validators is not other.child.validators  # one instance's additions stay its own
    with pytest.raises(serializers.ValidationError):
        tags.run_validation(["x" * 51])  # the child's max_length still applies
    assert tags.run_validation(["algebra"]) == ["algebra"]


def test_an_empty_queryset_is_shared_and_any_other_is_copied():
    class Owned(BuiltFieldsCacheMixin, serializers.ModelSerializer):
        other = serializers.PrimaryKeyRelatedField(queryset=FlashcardSerializer.Meta.model.objects.all())

        class Meta:
            model = FlashcardSerializer.Meta.model
            fields = ["id", "course", "other"]

    first, second = Owned(), Owned()
    assert first.fields["other"].queryset is not second.fields["other"].queryset  # DRF's deep copy
    # VisibleCourseField keeps a .none() queryset for the schema only (lookups go through its
    # selector): nothing can be cached in it, so it is shared.
    course, other_course = FlashcardSerializer().fields["course"], FlashcardSerializer().fields["course"]
    assert course is not other_course and course.queryset is other_course.queryset
