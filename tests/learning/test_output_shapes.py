"""The analytics, dashboard and progress reads answer exactly the shape their output serializers
declare in the OpenAPI schema: every key declared, nothing undeclared, null only where allowed.
The data below fills every branch that adds a row (goals with prerequisites, rated sessions,
graded events, a schedule for today, weak topics with flashcards and a document)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework import serializers

from tests.conftest import client_for
from tests.factories import UserFactory
from tests.learning.conftest import make_event, make_session
from tutorhub.accounts.models import ParentChildLink
from tutorhub.assessments.models import Flashcard
from tutorhub.knowledge.models import Chunk, Document
from tutorhub.learning import serializers as s

pytestmark = pytest.mark.django_db


def assert_shape(value, field, path="$"):
    """`value` (parsed JSON) conforms to the DRF field/serializer `field`."""
    if value is None:
        assert field.allow_null, f"{path} is null but not nullable"
        return
    if isinstance(field, serializers.ListSerializer):
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            assert_shape(item, field.child, f"{path}[{i}]")
    elif isinstance(field, serializers.Serializer):
        assert isinstance(value, dict), path
        fields = field.fields
        assert set(value) <= set(fields), f"{path}: undeclared keys {set(value) - set(fields)}"
        required = {name for name, f in fields.items() if f.required}
        assert required <= set(value), f"{path}: missing keys {required - set(value)}"
        for name, item in value.items():
            assert_shape(item, fields[name], f"{path}.{name}")
    elif isinstance(field, serializers.ListField):
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            assert_shape(item, field.child, f"{path}[{i}]")
    elif isinstance(field, serializers.DictField):
        assert isinstance(value, dict), path
    elif isinstance(field, serializers.BooleanField):
        assert isinstance(value, bool), path
    elif isinstance(field, serializers.IntegerField):
        assert isinstance(value, int) and not isinstance(value, bool), path
    elif isinstance(field, serializers.FloatField):
        assert isinstance(value, int | float) and not isinstance(value, bool), path
    elif isinstance(field, serializers.DateTimeField):
        assert isinstance(value, str) and "T" in value, path
    elif isinstance(field, serializers.DateField):
        dt.date.fromisoformat(value)
    elif isinstance(field, serializers.CharField):
        assert isinstance(value, str), path
    elif isinstance(field, serializers.SerializerMethodField):
        pass  # typed by its method's annotation
    else:  # pragma: no cover - a field kind this checker does not know yet
        raise AssertionError(f"{path}: unchecked field {type(field).__name__}")


@pytest.fixture
def busy_student(user):
    from tutorhub.learning.models import LearningGoal, StudyPlan

    today = timezone.localdate()
    plan = StudyPlan.objects.create(
        user=user, title="Biology", start_date=today - dt.timedelta(days=10), end_date=today + dt.timedelta(days=20),
        study_hours_per_week=10,
    )
    basics = LearningGoal.objects.create(
        study_plan=plan, title="Cells", key_concepts=["photosynthesis"], estimated_hours=4, target_date=today + dt.timedelta(days=2)
    )
    advanced = LearningGoal.objects.create(study_plan=plan, title="Energy", key_concepts=["respiration"], estimated_hours=6)
    advanced.prerequisites.set([basics])
    LearningGoal.objects.create(study_plan=plan, title="Done", status="completed", completed_at=timezone.now(), estimated_hours=1)
    for days_ago in (0, 1, 2, 9):
        make_session(user, started_at=timezone.now() - dt.timedelta(days=days_ago), minutes=45, rating=4, plan=plan, topics=["photosynthesis"])
    for days_ago in (0.1, 8, 20):
        make_event(user, "quiz_answer", "photosynthesis", 0.0, days_ago=days_ago, subject="Biology")
        make_event(user, "flashcard_review", "respiration", 1.0, days_ago=days_ago, subject="Biology")
        make_event(user, "homework", "photosynthesis", 0.5, days_ago=days_ago, subject="Biology")
    make_event(user, "quiz_answer", "mitosis", 1.0, days_ago=30, subject="Biology")  # strong but stale
    make_event(user, "study", "photosynthesis", None, duration=1800, subject="Biology")
    Flashcard.objects.create(user=user, question="What does photosynthesis make?", answer="Glucose and oxygen")
    doc = Document.objects.create(owner=user, name="Biology notes", processing_status="completed")
    Chunk.objects.create(document=doc, position=0, text="Photosynthesis turns light into chemical energy.")
    client = client_for(user)
    response = client.post(f"/api/v1/learning/study-plans/{plan.pk}/generate_schedule/", {}, format="json")
    assert response.status_code == 200, response.content
    return client, plan


@pytest.mark.parametrize(
    "path, serializer",
    [
        ("/api/v1/learning/study-plans/{plan}/progress/", s.StudyPlanProgressSerializer()),
        ("/api/v1/learning/study-plans/dashboard/", s.LearningDashboardSerializer()),
        ("/api/v1/learning/analytics/overview/", s.LearningOverviewSerializer()),
        ("/api/v1/learning/analytics/performance_trends/", s.PerformanceTrendsSerializer()),
        ("/api/v1/learning/analytics/learning_path_analysis/", s.LearningPathAnalysisSerializer()),
        ("/api/progress/", s.ProgressSummarySerializer()),
        ("/api/recommendations/", s.PersonalRecommendationsSerializer()),
        ("/api/reports/weekly/", s.WeeklyReportsSerializer()),
    ],
)
def test_response_matches_its_declared_shape(busy_student, path, serializer):
    client, plan = busy_student
    response = client.get(path.format(plan=plan.pk))
    assert response.status_code == 200, response.content
    body = response.json()
    assert_shape(body, serializer)
    # The data really exercised the nested rows (an empty list proves nothing about its items).
    lists = [v for v in body.values() if isinstance(v, list)]
    assert any(lists), f"{path} returned only empty lists: {body}"


def test_weekly_report_of_a_child_matches_its_shape(parent):
    child = UserFactory()
    ParentChildLink.objects.create(parent=parent, child=child)
    make_event(child, "quiz_answer", "fractions", 1.0)
    body = client_for(parent).get("/api/reports/weekly/").json()
    assert len(body["reports"]) == 1
    assert_shape(body, s.WeeklyReportsSerializer())
