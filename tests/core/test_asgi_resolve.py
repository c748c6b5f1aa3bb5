"""The ASGI handler remembers the URL match of a path (core.asgi._resolve_path): the same match
Django's resolver gives, nothing remembered for a path that does not resolve, and a changed
URL configuration is used at once."""

from __future__ import annotations

import uuid

import pytest
from django.test import RequestFactory, override_settings
from django.urls import Resolver404, resolve

from tutorhub.core.asgi import SyncChainASGIHandler, _resolve_path


@pytest.fixture
def handler():
    made = SyncChainASGIHandler(threads=1)
    yield made
    made.threads.shutdown()


def resolved(handler, path: str):
    return handler.resolve_request(RequestFactory().get(path))


def test_the_match_is_djangos_and_is_remembered(handler):
    _resolve_path.cache_clear()
    path = "/api/v1/assessments/flashcards/"
    first = resolved(handler, path)
    expected = resolve(path)
    assert (first.func, first.args, first.kwargs, first.url_name, first.route, first.namespaces) == (
        expected.func, expected.args, expected.kwargs, expected.url_name, expected.route, expected.namespaces)
    request = RequestFactory().get(path)
    assert handler.resolve_request(request) is first and request.resolver_match is first
    assert _resolve_path.cache_info().hits == 1


def test_each_path_gets_its_own_arguments(handler):
    one, two = uuid.uuid4(), uuid.uuid4()
    first = resolved(handler, f"/api/v1/chat/chats/{one}/messages/")
    second = resolved(handler, f"/api/v1/chat/chats/{two}/messages/")
    assert first.func is second.func
    assert str(one) in map(str, first.kwargs.values()) and str(two) in map(str, second.kwargs.values())


def test_a_path_that_does_not_resolve_raises_every_time(handler):
    _resolve_path.cache_clear()
    for _ in range(2):
        with pytest.raises(Resolver404):
            resolved(handler, "/api/v1/no-such-thing/")
    assert _resolve_path.cache_info().currsize == 0


def test_a_changed_url_configuration_is_used_at_once(handler):
    path = "/api/v1/accounts/profile/"
    assert resolved(handler, path).url_name == resolve(path).url_name
    with override_settings(ROOT_URLCONF="tests.core.boom_urls"):  # clears Django's URL caches
        with pytest.raises(Resolver404):
            resolved(handler, path)
    assert resolved(handler, path).url_name == resolve(path).url_name
