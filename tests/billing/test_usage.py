"""GET /api/v1/billing/usage/ in seed 001's shape, summed from UsageRecord rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tutorhub.billing.models import UsageRecord
from tutorhub.billing.services import usage_record

pytestmark = pytest.mark.django_db
URL = "/api/v1/billing/usage/"


def test_usage_is_computed_from_records(api_client, user, other_user):
    empty = api_client.get(URL).json()
    assert empty["current_period"]["ai_tokens_used"] == 0 and empty["usage_percentage"]["ai_tokens"] == 0
    usage_record(user=user, kind="ai_tokens", amount=15_000, feature="chat")
    for _ in range(25):
        usage_record(user=user, kind="documents", amount=1, feature="ingestion")
    usage_record(user=user, kind="storage_bytes", amount=245 * 1024 * 1024)
    usage_record(user=other_user, kind="ai_tokens", amount=99_999)
    old = usage_record(user=user, kind="ai_tokens", amount=7_000)
    UsageRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=45))
    data = api_client.get(URL).json()
    period = data["current_period"]
    assert period == {
        "start_date": timezone.now().date().replace(day=1).isoformat(),
        "end_date": period["end_date"],
        "ai_tokens_used": 15_000, "ai_tokens_limit": 50_000,
        "documents_processed": 25, "documents_limit": 100,
        "storage_used_mb": 245.0, "storage_limit_mb": 1000.0,
    }
    assert dt.date.fromisoformat(period["end_date"]) + dt.timedelta(days=1) == (
        dt.date.fromisoformat(period["start_date"]) + dt.timedelta(days=32)
    ).replace(day=1)
    assert data["usage_percentage"] == {"ai_tokens": 30.0, "documents": 25.0, "storage": 24.5}


def test_usage_requires_auth(anon_client):
    assert anon_client.get(URL).status_code == 401


def test_period_anchoring():
    from tutorhub.billing.selectors import period_containing

    anchor = dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC)
    start, end = period_containing(anchor=anchor, interval="month", now=dt.datetime(2026, 3, 5, tzinfo=dt.UTC))
    assert (start.date(), end.date()) == (dt.date(2026, 2, 28), dt.date(2026, 3, 31))
    start, end = period_containing(anchor=anchor, interval="year", now=dt.datetime(2028, 6, 1, tzinfo=dt.UTC))
    assert (start.date(), end.date()) == (dt.date(2028, 1, 31), dt.date(2029, 1, 31))


def test_upgrade_marks_earlier_offline_usage_as_free(user, api_client):
    """Installs that ran the offline backends before `billable` existed had that free work held
    against the plan; the migration that adds the field marks it."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("tutorhub.billing.migrations.0006_usage_billable")
    offline = usage_record(user=user, kind="ai_tokens", amount=78_000, feature="ingestion", model="tutorhub-offline-document_analysis")
    paid = usage_record(user=user, kind="ai_tokens", amount=500, feature="chat", model="gpt-4o-mini")
    migration.mark_offline_usage(apps, None)
    offline.refresh_from_db()
    paid.refresh_from_db()
    assert not offline.billable and paid.billable
    assert api_client.get(URL).json()["current_period"]["ai_tokens_used"] == 500
