"""core.renderers.JSONRenderer writes the bytes DRF's JSONRenderer writes, for every type a
serializer or a view can hand it, and leaves indented output and other renderers to DRF."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import uuid
import zoneinfo
from collections import OrderedDict

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from tutorhub.core import renderers as core_renderers
from tutorhub.core.renderers import JSONRenderer


class Colour(enum.Enum):
    RED = "red"


class Role(enum.StrEnum):
    STUDENT = "student"


class Level(enum.IntEnum):
    HIGH = 3


def payload() -> dict:
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    return {
        "str": "plain", "unicode": "é ü 日本語 😀", "escapes": 'quote " backslash \\ tab \t nl \n ctrl \x01',
        "separators": "line \u2028 paragraph \u2029 end", "empty": "",
        "int": 42, "negative": -7, "big": 2**63 - 1, "zero": 0, "true": True, "false": False, "none": None,
        "floats": [0.1, 1.5, -0.0, 1e16, 1e22, 123456.789, 1.7976931348623157e308, 1e-4, 1.0],
        "decimal": decimal.Decimal("12.50"), "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "utc": dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC),
        "utc_no_micro": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
        "paris": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=paris),
        "london_winter": dt.datetime(2024, 1, 6, 7, 8, 9, tzinfo=zoneinfo.ZoneInfo("Europe/London")),  # +00:00 -> Z
        "naive": dt.datetime(2024, 5, 6, 7, 8, 9), "date": dt.date(2024, 5, 6), "time": dt.time(7, 8, 9, 500),
        "timedelta": dt.timedelta(hours=1, microseconds=5), "lazy": gettext_lazy("Not found."),
        "bytes": b"raw", "tuple": (1, "two"), "set": {3}, "frozenset": frozenset({"x"}),
        "enum_str": Role.STUDENT, "enum_int": Level.HIGH,
        "ordered": OrderedDict([("b", 1), ("a", 2)]), "nested": {"list": [{"deep": [None, {}, []]}]},
        "return_dict": ReturnDict({"k": "v"}, serializer=None), "return_list": ReturnList([1, 2], serializer=None),
    }


def drf(data, media_type=None, context=None) -> bytes:
    return renderers.JSONRenderer().render(data, media_type, context)


def test_every_type_renders_to_drfs_bytes():
    data = payload()
    assert JSONRenderer().render(data) == drf(data)
    assert JSONRenderer().render(data, "application/json", {}) == drf(data, "application/json", {})


def test_lists_of_pages_and_the_orjson_path_is_taken(monkeypatch):
    page = ReturnDict({"count": 2, "next": None, "previous": None,
                       "results": ReturnList([payload(), payload()], serializer=None)}, serializer=None)
    calls = []
    monkeypatch.setattr(renderers.JSONRenderer, "render", lambda *a, **k: calls.append(a) or b"")
    fast = JSONRenderer().render(page)
    assert calls == []  # orjson rendered it: DRF's renderer was not asked
    monkeypatch.undo()
    assert fast == drf(page)


@pytest.mark.parametrize("value", [1e-05, 2.5e-07, -3.75e-9, 5e-324, 0.00001234])
def test_small_floats_keep_pythons_spelling(value):
    # orjson writes 1e-05 as 0.00001 and 2.5e-07 as 2.5e-7; those pages go to DRF's renderer.
    data = {"value": value, "list": [value, "text"]}
    assert JSONRenderer().render(data) == drf(data)


def test_text_that_looks_like_a_small_float_is_unchanged():
    data = {"text": "versions 2e-5 and 10.00001 and re-run", "n": 1}
    assert JSONRenderer().render(data) == drf(data)


@pytest.mark.parametrize("data", [
    {"huge": 2**64},  # past orjson's integers
    {1: "int key", None: "none key", 2.5: "float key", False: "bool key"},  # json turns keys to strings
])
def test_what_orjson_refuses_renders_as_drf_does(data):
    assert JSONRenderer().render(data) == drf(data)


@pytest.mark.parametrize("data", [
    {"aware_time": dt.time(7, 8, tzinfo=dt.UTC)},  # DRF: ValueError
    {"object": object()},  # DRF: TypeError
    {"dataclass": dataclasses.make_dataclass("Point", ["x"])(1)},  # not JSON for DRF either
])
def test_what_drf_refuses_raises_drfs_error(data):
    with pytest.raises((TypeError, ValueError)) as expected:
        drf(data)
    with pytest.raises(expected.type):
        JSONRenderer().render(data)


def test_the_two_documented_differences():
    # DRF's renderer refuses these (a 500); orjson writes a value. No serializer field makes either.
    with pytest.raises(TypeError):
        drf({"enum": Colour.RED})
    assert JSONRenderer().render({"enum": Colour.RED}) == b'{"enum":"red"}'
    with pytest.raises(ValueError):
        drf({"nan": float("nan")})
    assert JSONRenderer().render({"nan": float("nan"), "inf": float("inf")}) == b'{"nan":null,"inf":null}'


def test_indented_output_and_none_are_drfs():
    data = payload()
    for media_type, context in [("application/json; indent=4", {}), (None, {"indent": 2})]:
        assert JSONRenderer().render(data, media_type, context) == drf(data, media_type, context)
    assert JSONRenderer().render(None) == b""


def test_a_subclass_encoder_is_used(monkeypatch):
    class Encoder(renderers.JSONRenderer.encoder_class):
        def default(self, obj):
            return "custom" if isinstance(obj, complex) else super().default(obj)

    class Custom(JSONRenderer):
        encoder_class = Encoder

    class CustomDRF(renderers.JSONRenderer):
        encoder_class = Encoder

    data = {"c": 1j, "d": dt.date(2024, 1, 2)}
    assert Custom().render(data) == CustomDRF().render(data) == b'{"c":"custom","d":"2024-01-02"}'


def test_the_float_check_finds_only_float_like_spellings():
    assert core_renderers._python_float_differs(b'{"a":1e-5}')
    assert core_renderers._python_float_differs(b'{"a":0.00001}')
    assert core_renderers._python_float_differs(b'[-0.00001]')
    assert not core_renderers._python_float_differs(b'{"a":"e-mail","b":1e+16,"c":"re-","d":"3600.000005",'
                                                  b'"e":"71e04135-f4e5-434e-9da5-6827486531c4"}')


def test_the_api_uses_it_and_the_browsable_api_still_renders(api_client):
    response = api_client.get("/api/v1/accounts/profile/")
    assert response.status_code == 200
    assert isinstance(response.accepted_renderer, JSONRenderer)
    assert response.content == drf(response.data)
    html = api_client.get("/api/v1/accounts/profile/", HTTP_ACCEPT="text/html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    assert isinstance(html.accepted_renderer, renderers.BrowsableAPIRenderer)
    assert b"&quot;username&quot;" in html.content  # the indented JSON panel, by DRF's renderer
