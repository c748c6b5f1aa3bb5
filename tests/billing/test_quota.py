"""Quota enforcement: boundary, reservations, period reset, standing storage, concurrency."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection, connections
from django.db.models import Sum
from django.utils import timezone

from tests.conftest import client_for
from tests.factories import UserFactory
from tutorhub.billing.models import QuotaReservation, UsageRecord
from tutorhub.billing.selectors import plan_default
from tutorhub.billing.services import QuotaExceeded, quota_check, quota_release, usage_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_plan(db):
    plan = plan_default()
    plan.ai_tokens_limit, plan.documents_limit, plan.storage_limit_bytes = 1000, 2, 5000
    plan.save()
    return plan


def test_boundary_exact_limit_passes_one_more_fails(user, small_plan):
    quota_check(user=user, kind="ai_tokens", amount=600)
    usage_record(user=user, kind="ai_tokens", amount=600)
    assert not QuotaReservation.objects.exists()  # the record settled the reservation
    quota_check(user=user, kind="ai_tokens", amount=400)  # exactly at the limit is allowed
    usage_record(user=user, kind="ai_tokens", amount=400)
    with pytest.raises(QuotaExceeded) as exc:
        quota_check(user=user, kind="ai_tokens", amount=1)
    assert exc.value.status_code == 429 and exc.value.error_code == "QUOTA_EXCEEDED"
    assert exc.value.used == 1000 and exc.value.limit == 1000


def test_reservations_count_until_recorded_released_or_expired(user, small_plan):
    first = quota_check(user=user, kind="documents", amount=1)
    quota_check(user=user, kind="documents", amount=1)
    with pytest.raises(QuotaExceeded):
        quota_check(user=user, kind="documents", amount=1)  # two in flight fill the plan
    quota_release(reservation=first)
    quota_check(user=user, kind="documents", amount=1)
    QuotaReservation.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    quota_check(user=user, kind="documents", amount=2)  # dead requests' reservations lapse


def test_only_the_call_a_reservation_was_made_for_settles_it(user, small_plan):
    quota_check(user=user, kind="ai_tokens", amount=500)
    usage_record(user=user, kind="ai_tokens", amount=5, settle=False)  # the question's embedding
    assert QuotaReservation.objects.count() == 1  # still held while the answer is generated
    with pytest.raises(QuotaExceeded):
        quota_check(user=user, kind="ai_tokens", amount=496)
    usage_record(user=user, kind="ai_tokens", amount=300)  # the answer
    assert not QuotaReservation.objects.exists()


def test_usage_resets_each_period_but_storage_does_not(user, small_plan):
    usage_record(user=user, kind="ai_tokens", amount=1000)
    usage_record(user=user, kind="storage_bytes", amount=5000)
    last_month = timezone.now() - dt.timedelta(days=40)
    UsageRecord.objects.update(created_at=last_month)
    quota_check(user=user, kind="ai_tokens", amount=1000)  # a new month, a fresh allowance
    with pytest.raises(QuotaExceeded) as exc:
        quota_check(user=user, kind="storage_bytes", amount=1)  # stored bytes are still stored
    assert exc.value.resets_at is None
    usage_record(user=user, kind="storage_bytes", amount=-2000)  # a deletion frees space
    quota_check(user=user, kind="storage_bytes", amount=2000)


def test_unlimited_plans_anonymous_and_other_users(user, other_user, small_plan):
    usage_record(user=other_user, kind="ai_tokens", amount=5000)
    assert quota_check(user=user, kind="ai_tokens", amount=1000) is not None  # other's usage is not mine
    assert quota_check(user=None, kind="ai_tokens", amount=10**9) is None
    assert usage_record(user=None, kind="ai_tokens", amount=5) is None
    small_plan.ai_tokens_limit = None
    small_plan.save()
    assert quota_check(user=user, kind="ai_tokens", amount=10**12) is None


def test_ai_calls_record_usage_and_an_exhausted_quota_stops_ai_work(parent, small_plan, fake_openai):
    # A paid model (the fake OpenAI-compatible server): offline work is free and never refused.
    from tutorhub.accounts.models import ParentChildLink
    from tutorhub.learning.models import WeeklyReport

    child = UserFactory()
    ParentChildLink.objects.create(parent=parent, child=child)
    client = client_for(parent)
    assert client.get("/api/reports/weekly/").status_code == 200
    recorded = UsageRecord.objects.get(user=parent, kind="ai_tokens")
    assert recorded.feature == "reports" and recorded.model == "fake-gpt" and recorded.billable
    assert not QuotaReservation.objects.exists()
    WeeklyReport.objects.all().delete()
    small_plan.ai_tokens_limit = recorded.amount + 10
    small_plan.save()
    res = client.get("/api/reports/weekly/")
    assert res.status_code == 429
    body = res.json()
    assert body["error_code"] == "QUOTA_EXCEEDED" and body["details"]["kind"] == "ai_tokens"
    assert not WeeklyReport.objects.exists() and UsageRecord.objects.filter(user=parent).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL (SQLite serialises writers itself)")
def test_parallel_requests_at_the_limit_do_not_overshoot():
    plan = plan_default()
    plan.ai_tokens_limit = 1000
    plan.save()
    user = UserFactory()
    passed, refused, errors = [], [], []
    barrier = threading.Barrier(20)

    def worker(i: int) -> None:
        try:
            barrier.wait()
            try:
                quota_check(user=user, kind="ai_tokens", amount=100)
            except QuotaExceeded:
                refused.append(i)
                return
            time.sleep(0.01)  # the "AI work", while other requests are being decided
            usage_record(user=user, kind="ai_tokens", amount=100)
            passed.append(i)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(passed) == 10 and len(refused) == 10
    total = sum(UsageRecord.objects.filter(user=user).values_list("amount", flat=True))
    assert total == 1000  # exactly the limit: no request slipped past on a stale total
    assert not QuotaReservation.objects.filter(user=user).exists()


def test_expired_reservations_are_purged_by_the_hourly_job(user, small_plan):
    from tutorhub.billing.tasks import quota_reservations_purge

    quota_check(user=user, kind="ai_tokens", amount=10)
    live = quota_check(user=user, kind="ai_tokens", amount=10)
    QuotaReservation.objects.exclude(pk=live.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert quota_reservations_purge.call() == 1
    assert list(QuotaReservation.objects.values_list("pk", flat=True)) == [live.pk]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL (SQLite serialises writers itself)")
def test_parallel_http_requests_at_the_limit(fake_openai):
    """One parent firing 8 report requests (different weeks) at once
    against a budget for a few: some get 429 QUOTA_EXCEEDED, none a 500, and the tokens
    recorded stay within the limit plus at most one request's cost. (A paid model: offline
    reports are free and never refused.)"""
    from tutorhub.accounts.models import ParentChildLink
    from tutorhub.learning.reports import REPORT_MAX_TOKENS

    parent = UserFactory(role="parent")
    ParentChildLink.objects.create(parent=parent, child=UserFactory())
    today = timezone.localdate()
    # One report's real cost `a` (its check reserves more: prompt + REPORT_MAX_TOKENS). The budget
    # a + REPORT_MAX_TOKENS + 3a admits the first request however the threads interleave, and
    # refuses some even if a slow machine runs all eight one after another (8a > budget).
    assert client_for(parent).get("/api/reports/weekly/", {"week_end": "2000-01-01"}).status_code == 200
    cost = UsageRecord.objects.get(user=parent).amount
    UsageRecord.objects.filter(user=parent).delete()
    plan = plan_default()
    limit = cost + REPORT_MAX_TOKENS + 3 * cost
    plan.ai_tokens_limit = limit
    plan.save()
    statuses, barrier = [], threading.Barrier(8)

    def worker(i: int) -> None:
        try:
            client = client_for(parent)
            barrier.wait()
            res = client.get("/api/reports/weekly/", {"week_end": (today - dt.timedelta(days=7 * i)).isoformat()})
            statuses.append((res.status_code, res.json().get("error_code")))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(statuses)
    assert len(codes) == 8 and all(c in (200, 429) for c, _ in codes), codes
    assert (429, "QUOTA_EXCEEDED") in codes and (200, None) in codes
    recorded = sum(UsageRecord.objects.filter(user=parent, kind="ai_tokens").values_list("amount", flat=True))
    assert recorded <= limit


# --- what costs money (issue 13 item 9) ----------------------------------------------------
CHAPTER = (
    "Chapter {n}. Photosynthesis converts light energy into chemical energy in the chloroplasts. "
    "Chlorophyll absorbs red and blue light, and the Calvin cycle fixes carbon dioxide into sugar. " * 8
)


def test_offline_work_is_recorded_but_never_charged(user, small_plan, settings):
    settings.EMBEDDING_BACKENDS = {}
    small_plan.documents_limit = small_plan.storage_limit_bytes = None
    small_plan.save()
    client = client_for(user)
    # Far more offline analysis and chat than the 1,000-token plan holds.
    for n in range(6):
        response = client.post("/api/resources/add/", {"title": f"Chapter {n}", "content": CHAPTER.format(n=n)})
        assert response.status_code in (200, 201), response.json()
    session = client.post("/api/v1/chat/chats/", {"title": "Study"}).json()
    for _ in range(3):
        answer = client.post(f"/api/v1/chat/chats/{session['id']}/send_message/", {"content": "Where is the Calvin cycle?"})
        assert answer.status_code == 201, answer.json()
    offline = UsageRecord.objects.filter(user=user, kind="ai_tokens")
    assert offline.aggregate(total=Sum("amount"))["total"] > small_plan.ai_tokens_limit
    assert not offline.filter(billable=True).exists() and not QuotaReservation.objects.exists()
    usage = client.get("/api/v1/billing/usage/").json()
    assert usage["current_period"]["ai_tokens_used"] == 0
    features = {row["feature"]: row for row in usage["by_feature"]}
    assert features["chat"]["tokens"] > 0 and features["chat"]["charged_tokens"] == 0
    assert features["document_analysis"]["tokens"] > 0 and features["document_analysis"]["charged_tokens"] == 0


def test_paid_ingestion_analysis_is_charged_to_the_uploader_as_its_own_feature(user, other_user, small_plan, fake_openai):
    small_plan.ai_tokens_limit, small_plan.documents_limit, small_plan.storage_limit_bytes = 100_000, None, None
    small_plan.save()
    analysis = '{"summary": "Light becomes sugar.", "topics": ["photosynthesis"], "key_concepts": ["Calvin cycle"]}'
    fake_openai.push(text=analysis)
    response = client_for(user).post("/api/resources/add/", {"title": "Chapter 1", "content": CHAPTER.format(n=1)})
    assert response.status_code in (200, 201), response.json()
    record = UsageRecord.objects.get(kind="ai_tokens", feature="document_analysis")
    assert record.user == user and record.billable and record.model == "fake-gpt"
    assert not UsageRecord.objects.filter(user=other_user).exists()
    usage = client_for(user).get("/api/v1/billing/usage/").json()
    assert usage["current_period"]["ai_tokens_used"] >= record.amount
    assert {"feature": "document_analysis", "tokens": record.amount, "charged_tokens": record.amount} in usage["by_feature"]

    # Once the plan is spent, the paid summary waits; the document is still processed and searchable.
    small_plan.ai_tokens_limit = record.amount + 50
    small_plan.save()
    calls = len(fake_openai.requests)
    response = client_for(user).post("/api/resources/add/", {"title": "Chapter 2", "content": CHAPTER.format(n=2)})
    assert response.status_code in (200, 201), response.json()
    from tutorhub.knowledge.models import Document

    document = Document.objects.get(name="Chapter 2")
    assert document.processing_status == Document.Status.COMPLETED and document.summary == ""
    assert "AI token limit" in document.processing_metadata["summary_error"]
    assert not any(path.endswith("/chat/completions") for path, _ in fake_openai.requests[calls:])
    assert UsageRecord.objects.filter(kind="ai_tokens", feature="document_analysis").count() == 1
