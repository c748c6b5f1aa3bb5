"""core.serializers.FastRepresentationMixin renders what DRF's Serializer.to_representation
renders: the same keys in the same order, the same values, the same datetime strings."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from types import SimpleNamespace

import pytest
from django.utils import timezone
from rest_framework import serializers

from benchmarks.api_data import seed
from benchmarks.http_api import ENDPOINTS
from tests.conftest import client_for
from tutorhub.accounts.models import User
from tutorhub.core.serializers import FastRepresentationMixin

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def drf_to_representation(self, instance):
    return serializers.Serializer.to_representation(self, instance)


class Plain(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    count = serializers.IntegerField()
    flag = serializers.BooleanField()
    when = serializers.DateTimeField()
    raw = serializers.ReadOnlyField()
    hexed = serializers.UUIDField(format="hex", source="id")
    fixed = serializers.DateTimeField(source="when", default_timezone=dt.UTC)  # its own timezone
    year = serializers.DateTimeField(source="when", format="%Y")
    untouched = serializers.DateTimeField(source="when", format=None)
    nested = serializers.CharField(source="inner.name")
    upper = serializers.CharField(source="shout")  # a method: DRF calls it
    optional = serializers.CharField(required=False)  # missing: skipped
    defaulted = serializers.CharField(default="d")  # missing: its default
    nullable = serializers.CharField(allow_null=True, required=True)  # missing: None


class Fast(FastRepresentationMixin, Plain):
    pass


def row(**overrides):
    values = {
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "name": "name", "count": "7", "flag": 1,
        "when": dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC), "raw": {"a": [1]},
        "inner": SimpleNamespace(name="inner"), "shout": lambda: "LOUD",
    }
    values.update(overrides)
    return SimpleNamespace(**values)


WHENS = [
    dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC),
    dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=PARIS),
    dt.datetime(2024, 1, 6, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(0))),  # +00:00, not UTC's object
    dt.datetime(2024, 1, 6, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=-3, minutes=-30))),
    dt.datetime(2024, 5, 6, 7, 8, 9),  # naive: DRF makes it aware in the current timezone
    dt.datetime(2024, 3, 31, 2, 30),  # naive and nonexistent in Paris (DST gap)
    "2024-05-06T07:08:09Z",  # already a string
    None,
]


@pytest.mark.parametrize("when", WHENS, ids=repr)
@pytest.mark.parametrize("use_tz", [True, False])
@pytest.mark.parametrize("zone", [None, "Europe/Paris", "America/New_York"])
def test_datetimes_and_plain_fields_equal_drfs(settings, when, use_tz, zone):
    settings.USE_TZ = use_tz
    instance = row(when=when)
    with timezone.override(zone) if zone else timezone.override(timezone.get_default_timezone()):
        try:
            expected = drf_to_representation(Plain(), instance)
        except serializers.ValidationError as error:  # DRF refuses the nonexistent time: so must we
            with pytest.raises(serializers.ValidationError) as ours:
                Fast().to_representation(instance)
            assert ours.value.detail == error.detail
            return
        fast = Fast()
        assert fast.to_representation(instance) == expected
        assert list(fast.to_representation(instance)) == list(expected)  # key order too
        assert fast.to_representation(instance) == expected  # and again, from the compiled steps


def test_the_timezone_is_read_when_serializing_not_when_compiled():
    fast = Fast()
    instance = row()
    with timezone.override(PARIS):
        assert fast.to_representation(instance)["when"] == "2024-05-06T09:08:09.123456+02:00"
    assert fast.to_representation(instance)["when"] == "2024-05-06T07:08:09.123456Z"


def test_values_drf_converts_are_converted():
    instance = row(name=12, count=7.9, flag="true", raw=None)
    assert Fast().to_representation(instance) == drf_to_representation(Plain(), instance)


def test_a_dict_instance_takes_drfs_path():
    instance = vars(row())
    assert Fast().to_representation(instance) == drf_to_representation(Plain(), instance)


def test_a_missing_required_attribute_fails_as_in_drf():
    class Required(serializers.Serializer):
        gone = serializers.CharField()

    class FastRequired(FastRepresentationMixin, Required):
        pass

    with pytest.raises(AttributeError) as drf_error:
        drf_to_representation(Required(), SimpleNamespace())
    with pytest.raises(AttributeError) as ours:
        FastRequired().to_representation(SimpleNamespace())
    assert str(ours.value) == str(drf_error.value).replace("`Required`", "`FastRequired`")  # its own name


@pytest.mark.django_db
def test_model_serializer_foreign_keys_and_missing_relations(user):
    class Profile(serializers.ModelSerializer):
        class Meta:
            model = User
            fields = ["id", "username", "is_active", "date_joined", "last_login", "groups"]

    class FastProfile(FastRepresentationMixin, Profile):
        pass

    assert FastProfile().to_representation(user) == drf_to_representation(Profile(), user)


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_every_benchmarked_endpoint_renders_the_same_bytes(monkeypatch, name):
    data = seed(documents=2, paragraphs=10, chunks_per_document=3, cards=3, quizzes=2, sessions=3, pairs=2,
                notifications=3, groups=2, peers=2, prefix="fastrep")
    client = client_for(data["user"])
    url = ENDPOINTS[name].format(session=data["session"].pk)
    fast = client.get(url)
    assert fast.status_code == 200
    monkeypatch.setattr(FastRepresentationMixin, "to_representation", drf_to_representation)
    drf = client.get(url)
    assert fast.content == drf.content


class Stamped(serializers.Serializer):
    name = serializers.CharField()
    when = serializers.DateTimeField()


class FastStamped(FastRepresentationMixin, Stamped):
    pass


@pytest.mark.parametrize("use_tz", [True, False])
@pytest.mark.parametrize("zone", [None, "Europe/Paris"])
def test_a_list_renders_as_drfs_list(settings, use_tz, zone):
    settings.USE_TZ = use_tz
    instances = [row(when=when) for when in WHENS if when != dt.datetime(2024, 3, 31, 2, 30)]
    with timezone.override(zone) if zone else timezone.override(timezone.get_default_timezone()):
        many = Fast(many=True)
        assert type(many).__name__ == "FastListSerializer"
        assert many.to_representation(instances) == serializers.ListSerializer(child=Plain()).to_representation(instances)


def test_a_list_looks_the_timezone_up_once(monkeypatch, settings):
    settings.USE_TZ = True
    instances = [row(when=WHENS[i % 4]) for i in range(20)]
    lookups = []
    real = timezone.get_current_timezone
    monkeypatch.setattr(timezone, "get_current_timezone", lambda: lookups.append(1) or real())
    with timezone.override(PARIS):
        expected = serializers.ListSerializer(child=Stamped()).to_representation(instances)
        lookups.clear()
        assert FastStamped(many=True).to_representation(instances) == expected
        assert len(lookups) == 1
        # Outside a list each object looks it up again (the list's value is gone).
        lookups.clear()
        assert FastStamped().to_representation(instances[0])["when"] == "2024-05-06T09:08:09.123456+02:00"
        assert len(lookups) == 1


def test_a_declared_list_serializer_class_is_kept():
    class Custom(serializers.ListSerializer):
        pass

    class WithOwnList(Fast):
        class Meta:
            list_serializer_class = Custom

    assert type(WithOwnList(many=True)) is Custom
