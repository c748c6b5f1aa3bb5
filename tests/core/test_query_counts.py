"""Each list endpoint of benchmarks/http_api.py runs a fixed number of SQL queries whatever its
page holds (1 row or 21), and none of them reads a large text column it does not show (issue 17)."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from benchmarks.api_data import seed
from benchmarks.http_api import ENDPOINTS
from tests.conftest import client_for

# Queries per request: the JWT's user, then (lists) the paginator's COUNT and the page, then one
# query per prefetched relation. Adding a query here needs a reason; adding one per row never.
# The lists paginated through core.compiled read the page first and COUNT only a full page (a
# page with fewer rows is the last): one query fewer for a page of 1 row than for a full one.
EXPECTED_QUERIES = {  # (a page of 1 row, a full page of 20 of 21)
    "profile": (1, 1),  # the user
    "flashcards": (2, 3),  # user, page (source chunk and document joined), count
    "sessions": (3, 4),  # user, page, count, pairs of the page's sessions (seed 004)
    "chats": (2, 3),  # user, page (message count as a subquery), count
    "documents": (2, 3),  # user, page (chunk count as a subquery), count
    "messages": (3, 4),  # user, the session, page, count
    "quizzes": (2, 3),  # user, page (question count as a subquery), count
    "notifications": (2, 3),  # user, page, count
    "groups": (2, 3),  # user, page (course and teacher joined; student ids a subquery of each row), count
}

# Columns that hold up to megabytes a row and that no list shows.
LARGE_COLUMNS = re.compile(r'"(?:extracted_text|outline)"|"knowledge_chunk"\."text"|T\d+\."text"')


def capture(client, url: str) -> list[str]:
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return statements


def seeded(rows: int) -> dict:
    return seed(documents=rows, paragraphs=30, chunks_per_document=5, cards=rows, quizzes=rows, sessions=rows,
                pairs=rows, notifications=rows, groups=rows, peers=2, prefix=f"qc{rows}")


@pytest.fixture
def small():
    return seeded(1)


@pytest.fixture
def large():
    return seeded(21)  # past a page of 20: the page is full and there is a next one


def url_of(name: str, data: dict) -> str:
    return ENDPOINTS[name].format(session=data["session"].pk)


@pytest.mark.django_db
def test_query_count_does_not_grow_with_the_page(small, large):
    for name, expected in EXPECTED_QUERIES.items():
        counts = {
            label: len(capture(client_for(data["user"]), url_of(name, data)))
            for label, data in (("1 row", small), ("21 rows", large))
        }
        assert counts == {"1 row": expected[0], "21 rows": expected[1]}, name


@pytest.mark.django_db
def test_every_benchmarked_endpoint_is_pinned():
    assert set(EXPECTED_QUERIES) == set(ENDPOINTS)


@pytest.mark.django_db
def test_lists_do_not_read_large_text_columns(large):
    client = client_for(large["user"])
    for name in EXPECTED_QUERIES:
        for sql in capture(client, url_of(name, large)):
            assert not LARGE_COLUMNS.search(sql), f"{name} reads a large column: {sql[:600]}"


@pytest.mark.django_db
def test_the_column_check_sees_a_large_column(large):
    """The pattern above matches what an unrestricted query of these rows selects."""
    from tutorhub.assessments.models import Flashcard
    from tutorhub.knowledge.models import Document

    assert LARGE_COLUMNS.search(str(Document.objects.all().query))
    assert LARGE_COLUMNS.search(str(Flashcard.objects.select_related("source_chunk__document").query))


@pytest.mark.django_db
def test_content_still_shows_the_text(large):
    """Deferring is for lists: the content action reads the text it shows."""
    document = large["user"].documents.first()
    response = client_for(large["user"]).get(f"/api/v1/knowledge/documents/{document.pk}/content/")
    assert response.status_code == 200
    assert response.json()["extracted_text"] == document.extracted_text


@pytest.mark.django_db
def test_query_count_header_counts_the_requests_statements(rf):
    """The benchmark's X-Query-Count (QueryCountMiddleware, only with QUERY_COUNT_HEADER=1)."""
    from django.contrib.auth import get_user_model
    from django.http import HttpResponse

    from tutorhub.core.middleware import QueryCountMiddleware

    def view(request):
        get_user_model().objects.count()
        list(get_user_model().objects.all()[:1])
        return HttpResponse("ok")

    middleware = QueryCountMiddleware(view)
    assert middleware(rf.get("/"))["X-Query-Count"] == "2"
    get_user_model().objects.exists()  # outside a request: counted nowhere
    assert middleware(rf.get("/"))["X-Query-Count"] == "2"
