"""Seed 000: /api/progress/, /api/recommendations/, /api/reports/weekly/ (+ the weekly job)."""

from __future__ import annotations

import pytest
from django.core import mail

from tests.conftest import client_for
from tests.factories import UserFactory
from tests.learning.conftest import make_event, make_session
from tutorhub.accounts.models import ParentChildLink
from tutorhub.billing.models import UsageRecord
from tutorhub.learning.models import WeeklyReport

pytestmark = pytest.mark.django_db


@pytest.fixture
def child(parent):
    kid = UserFactory(first_name="Ada", last_name="L", email="ada@example.com")
    ParentChildLink.objects.create(parent=parent, child=kid)
    return kid


def script_week(child):
    from django.utils import timezone

    make_session(child, started_at=timezone.now(), minutes=1, topics=["fractions"])
    make_event(child, "study", "fractions", None, duration=3600)
    for _ in range(6):
        make_event(child, "quiz_answer", "fractions", 1.0)
        make_event(child, "quiz_answer", "decimals", 0.0)
    make_event(child, "flashcard_review", "fractions", 0.8)
    make_event(child, "flashcard_review", "decimals", 0.2)
    make_event(child, "homework", "decimals", 0.5)


def test_progress_groups_topics_by_subject(api_client, user):
    assert api_client.get("/api/progress/").json()["topics_tracked"] == 0
    make_event(user, "quiz_answer", "fractions", 1.0, subject="Mathematics")
    make_event(user, "quiz_answer", "photosynthesis", 0.0, subject="Biology")
    data = api_client.get("/api/progress/").json()
    assert data["topics_tracked"] == 2
    subjects = {s["subject"]: s for s in data["subjects"]}
    assert subjects["Mathematics"]["topics"][0]["topic"] == "fractions"
    assert subjects["Mathematics"]["mastery"] > subjects["Biology"]["mastery"]
    assert data["overall_mastery"] == pytest.approx((subjects["Mathematics"]["mastery"] + subjects["Biology"]["mastery"]) / 2, abs=1e-3)


def test_recommendations_target_weak_topics_with_own_documents(api_client, user):
    from tutorhub.knowledge.models import Chunk, Document

    assert api_client.get("/api/recommendations/").json() == {"weak_topics": [], "recommendations": []}
    for _ in range(3):
        make_event(user, "quiz_answer", "photosynthesis", 0.0)
        make_event(user, "quiz_answer", "fractions", 1.0)
    doc = Document.objects.create(owner=user, name="Biology notes", processing_status="completed")
    Chunk.objects.create(document=doc, position=0, text="Photosynthesis turns light into chemical energy.")
    data = api_client.get("/api/recommendations/").json()
    assert [w["topic"] for w in data["weak_topics"]] == ["photosynthesis"]
    rec = data["recommendations"][0]
    assert rec["suggested_difficulty"] == "easy" and "3 graded" in rec["reason"]
    assert rec["resources"][0]["title"] == "Biology notes"


def test_weekly_report_for_parent_offline(parent, child, other_user):
    script_week(child)
    client = client_for(parent)
    res = client.get("/api/reports/weekly/")
    assert res.status_code == 200, res.json()
    report = res.json()["reports"][0]
    assert report["child"]["id"] == child.pk and report["ai_model_used"] == "tutorhub-offline-weekly_report"
    facts = report["facts"]
    assert facts["study"]["minutes"] == 60 and facts["study"]["sessions"] == 1 and facts["study"]["active_days"] == 1
    assert facts["quizzes"]["answers"] == 12 and facts["quizzes"]["average_score"] == 50.0
    assert facts["flashcards"] == {"reviews": 2, "success_rate": 50.0}
    assert facts["homework"] == {"submitted": 1, "average_score": 50.0}
    assert [s["topic"] for s in facts["strengths"]] == ["fractions"]
    assert [w["topic"] for w in facts["weak_topics"]] == ["decimals"]
    assert "Ada L" in report["summary"] and "decimals" in report["summary"] and "12 question(s)" in report["summary"]
    # Polling again with unchanged facts reuses the stored report (no new LLM call)
    tokens = UsageRecord.objects.filter(user=parent, kind="ai_tokens").count()
    assert tokens == 1
    client.get("/api/reports/weekly/")
    assert UsageRecord.objects.filter(user=parent, kind="ai_tokens").count() == 1
    make_event(child, "homework", "decimals", 1.0)
    refreshed = client.get("/api/reports/weekly/").json()["reports"][0]
    assert refreshed["facts"]["homework"]["submitted"] == 2
    assert WeeklyReport.objects.count() == 1
    # Not the parent of other_user: a student sees only their own report
    own = client_for(other_user).get("/api/reports/weekly/").json()["reports"]
    assert [r["child"]["id"] for r in own] == [other_user.pk]
    assert client.get("/api/reports/weekly/", {"week_end": "2999-01-01"}).status_code == 400


def test_weekly_report_through_the_openai_client(fake_openai, parent, child):
    script_week(child)
    fake_openai.push(text="Ada had a steady week.")
    report = client_for(parent).get("/api/reports/weekly/").json()["reports"][0]
    assert report["summary"] == "Ada had a steady week." and report["ai_model_used"] == "fake-gpt"
    sent = next(d for p, d in fake_openai.requests if p.endswith("/chat/completions"))
    assert '"weak_topics"' in sent["messages"][1]["content"]


def test_weekly_report_llm_failure_is_a_clear_503_and_recovers(fake_openai, parent, child):
    script_week(child)
    fake_openai.push(status=500)
    res = client_for(parent).get("/api/reports/weekly/")
    assert res.status_code == 503 and res.json()["error_code"] == "SERVICE_UNAVAILABLE"
    assert not WeeklyReport.objects.exists()
    assert client_for(parent).get("/api/reports/weekly/").status_code == 200


def test_weekly_job_notifies_and_emails_parents(parent, child, django_capture_on_commit_callbacks):
    from tutorhub.engagement.models import Notification
    from tutorhub.learning.tasks import weekly_reports_send_all

    script_week(child)
    with django_capture_on_commit_callbacks(execute=True):
        weekly_reports_send_all.call()
    note = Notification.objects.get(user=parent)
    assert note.kind == "weekly_report" and "Ada L" in note.title and "decimals" in note.message
    assert any(parent.email in m.to and "Weekly report" in m.subject for m in mail.outbox)
    assert WeeklyReport.objects.get().sent_at is not None
    # A second run the same week sends nothing new
    with django_capture_on_commit_callbacks(execute=True):
        weekly_reports_send_all.call()
    assert Notification.objects.filter(user=parent).count() == 1


def test_weekly_job_is_registered_as_periodic():
    from datetime import timedelta

    from tutorhub.core.scheduler import registered_jobs

    jobs = [j for j in registered_jobs().values() if j.name.endswith("weekly_reports_send_all")]
    assert jobs and jobs[0].every == timedelta(days=7)
