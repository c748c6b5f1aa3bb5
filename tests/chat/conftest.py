from __future__ import annotations

import pytest

from tests.fakes.openai_server import use_openai_llm
from tutorhub.chat import services


@pytest.fixture
def chat_session(user):
    return services.chat_session_create(user=user, title="Calculus", chat_type="study")


@pytest.fixture
def short_timeout(fake_openai, settings):
    """The fake upstream with a 0.3 s client timeout and no retries (fault tests)."""
    use_openai_llm(settings, fake_openai, timeout=0.3)
    return fake_openai


@pytest.fixture
def add_document():
    """Put a document into a user's knowledge base (seed 000 resource ingestion)."""
    from tutorhub.knowledge.services import resource_add

    def add(*, user, title: str, content: str, course=None):
        return resource_add(user=user, title=title, content=content, course=course)

    return add


PHOTOSYNTHESIS = (
    "Photosynthesis converts light energy into chemical energy in plants. It takes place in the chloroplasts, "
    "where chlorophyll absorbs light. The products of photosynthesis are glucose and oxygen.\n\n"
    "Cellular respiration releases the energy stored in glucose. It happens in the mitochondria."
)



@pytest.fixture(autouse=True, scope="session")
def _close_async_db_connections(django_db_setup, django_db_blocker):
    """Async code outside a request (the live server's consumers) reaches the database from
    asgiref's shared sync thread; close that thread's connection at the end so PostgreSQL can
    drop the test database."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    with django_db_blocker.unblock():
        SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)
