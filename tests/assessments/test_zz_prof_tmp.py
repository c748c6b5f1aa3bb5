import cProfile
import pstats

import pytest

from tutorhub.assessments import services

pytestmark = pytest.mark.django_db


def test_prof(api_client, user, django_assert_max_num_queries):
    cards = [services.flashcard_create(user=user, question=f"q{i}", answer="a") for i in range(30)]
    api_client.post(f"/api/v1/assessments/flashcards/{cards[0].pk}/review/", {"quality_response": 4}, format="json")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    with CaptureQueriesContext(connection) as ctx:
        api_client.post(f"/api/v1/assessments/flashcards/{cards[1].pk}/review/", {"quality_response": 4}, format="json")
    print("\nQUERIES", len(ctx))
    for q in ctx.captured_queries: print("  ", q["sql"][:120])
    pr = cProfile.Profile(); pr.enable()
    for c in cards[2:]:
        api_client.post(f"/api/v1/assessments/flashcards/{c.pk}/review/", {"quality_response": 4}, format="json")
    pr.disable()
    pstats.Stats(pr).sort_stats("cumulative").print_stats(25)
