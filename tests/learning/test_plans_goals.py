"""Study plans and goals: CRUD, scoping, progress, recommendations, resources."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import client_for
from tests.learning.conftest import make_event, make_session
from tutorhub.learning.models import GoalProgressEntry, LearningGoal, StudyPlan

pytestmark = pytest.mark.django_db
PLANS = "/api/v1/learning/study-plans/"
GOALS = "/api/v1/learning/goals/"


def test_plan_crud_and_scoping(api_client, other_user, user):
    from tests.factories import CourseFactory

    course = CourseFactory(owner=user)
    body = {
        "course": str(course.pk), "title": "Calculus Mastery Plan", "description": "All of it",
        "start_date": "2026-01-20", "end_date": "2026-03-20", "study_hours_per_week": 10, "priority_level": "high",
    }
    res = api_client.post(PLANS, body, format="json")
    assert res.status_code == 201, res.json()
    plan_id = res.json()["id"]
    assert res.json()["goals_total"] == 0
    assert api_client.get(PLANS).json()["count"] == 1
    assert api_client.patch(f"{PLANS}{plan_id}/", {"title": "Renamed"}, format="json").json()["title"] == "Renamed"
    # Another user's course, another user's plan
    foreign_course = CourseFactory(owner=other_user)
    assert api_client.post(PLANS, {**body, "course": str(foreign_course.pk)}, format="json").status_code == 400
    other = client_for(other_user)
    assert other.get(f"{PLANS}{plan_id}/").status_code == 404
    assert other.get(PLANS).json()["count"] == 0
    assert api_client.get(f"{PLANS}not-a-uuid/").status_code == 404
    assert api_client.delete(f"{PLANS}{plan_id}/").status_code == 204
    assert not StudyPlan.objects.exists()


def test_plan_validation(api_client):
    res = api_client.post(PLANS, {"title": "x", "start_date": "2026-03-01", "end_date": "2026-01-01"}, format="json")
    assert res.status_code == 400 and "end_date" in res.json()["details"]
    assert api_client.post(PLANS, {"title": "x"}, format="json").status_code == 400
    assert api_client.post(PLANS, "garbage", content_type="application/json").status_code == 400


def test_goal_crud_prerequisites_and_cycles(api_client, plan, other_user):
    body = {
        "study_plan": str(plan.pk), "title": "Master the Chain Rule", "target_date": "2026-02-15", "estimated_hours": 8,
        "priority": 1, "key_concepts": ["chain_rule", "composite_functions", "derivatives"],
    }
    first = api_client.post(GOALS, body, format="json")
    assert first.status_code == 201, first.json()
    second = api_client.post(GOALS, {**body, "title": "Applications", "prerequisites": [first.json()["id"]]}, format="json")
    assert second.status_code == 201 and second.json()["prerequisites"] == [first.json()["id"]]
    # Making the first depend on the second would be a cycle
    cycle = api_client.patch(f"{GOALS}{first.json()['id']}/", {"prerequisites": [second.json()["id"]]}, format="json")
    assert cycle.status_code == 400
    assert LearningGoal.objects.get(pk=first.json()["id"]).prerequisites.count() == 0  # nothing half-written
    # Someone else's goal as prerequisite / someone else's plan
    other_plan = StudyPlan.objects.create(user=other_user, title="x", start_date=plan.start_date, end_date=plan.end_date)
    foreign = LearningGoal.objects.create(study_plan=other_plan, title="foreign")
    assert api_client.post(GOALS, {**body, "prerequisites": [str(foreign.pk)]}, format="json").status_code == 400
    assert api_client.post(GOALS, {**body, "study_plan": str(other_plan.pk)}, format="json").status_code == 400
    assert client_for(other_user).get(f"{GOALS}{first.json()['id']}/").status_code == 404
    assert api_client.get(GOALS, {"study_plan": str(plan.pk)}).json()["count"] == 2


def test_update_progress_and_complete(api_client, make_goal):
    goal = make_goal("Derivatives", estimated_hours=4)
    url = f"{GOALS}{goal.pk}/"
    res = api_client.post(url + "update_progress/", {"progress_percentage": 75, "notes": "Problems 1-10"}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "in_progress" and res.json()["progress_percentage"] == 75
    assert api_client.post(url + "update_progress/", {"progress_percentage": 150}, format="json").status_code == 400
    res = api_client.post(url + "complete/")
    assert res.status_code == 200 and res.json()["status"] == "completed" and res.json()["completed_at"]
    assert api_client.post(url + "complete/").status_code == 409
    assert list(GoalProgressEntry.objects.filter(goal=goal).values_list("progress_percentage", flat=True).order_by("created_at")) == [75, 100]


def test_progress_reflects_goals_and_sessions(api_client, plan, make_goal, user):
    a = make_goal("A", estimated_hours=3)
    make_goal("B", estimated_hours=1)
    url = f"{PLANS}{plan.pk}/progress/"
    first = api_client.get(url).json()
    assert first["completion_rate"] == 0 and first["total_goals"] == 2 and first["hours_studied"] == 0
    api_client.post(f"{GOALS}{a.pk}/complete/")
    make_session(user, started_at=plan.user.date_joined, minutes=90, plan=plan)
    second = api_client.get(url).json()
    assert second["completion_rate"] == 75.0  # 3 of 4 estimated hours done
    assert second["completed_goals"] == 1 and second["hours_studied"] == 1.5
    assert second["expected_completion_rate"] == round(100 * 11 / 31, 1)


def test_recommendations_follow_the_plans_state(api_client, plan, make_goal, user, today):
    url = f"{PLANS}{plan.pk}/recommendations/"
    goal = make_goal("Chain rule", estimated_hours=5, key_concepts=["chain_rule"], target_date=today + dt.timedelta(days=2))
    recs = api_client.get(url).json()["recommendations"]
    kinds = {r["type"] for r in recs}
    assert {"schedule", "deadline", "consistency"} <= kinds
    behind = next(r for r in recs if r["type"] == "schedule")
    assert behind["priority"] == "high" and behind["metadata"]["focus_goals"] == [str(goal.pk)]
    assert "performance" not in kinds
    for _ in range(5):
        make_event(user, "quiz_answer", "chain rule", 0.0)
    recs = api_client.get(url).json()["recommendations"]
    perf = next(r for r in recs if r["type"] == "performance")
    assert perf["metadata"]["struggling_goals"] == [str(goal.pk)]
    # Finishing the goal removes schedule, deadline and performance recommendations
    api_client.post(f"{GOALS}{goal.pk}/complete/")
    assert api_client.get(url).json()["recommendations"] == []


def test_goal_resources_match_own_flashcards_and_documents(api_client, make_goal, user, other_user):
    from tutorhub.assessments.models import Flashcard
    from tutorhub.knowledge.models import Chunk, Document

    goal = make_goal("Chain rule", key_concepts=["chain_rule"])
    url = f"{GOALS}{goal.pk}/resources/"
    assert api_client.get(url).json() == {"resources": []}
    Flashcard.objects.create(user=user, question="What is the chain rule?", answer="d/dx f(g(x)) = f'(g(x))g'(x)")
    Flashcard.objects.create(user=user, question="Capital of France?", answer="Paris")
    Flashcard.objects.create(user=other_user, question="chain rule again", answer="x")
    doc = Document.objects.create(owner=user, name="Derivatives notes", processing_status="completed")
    Chunk.objects.create(document=doc, position=0, text="The chain rule differentiates composite functions. " * 20)
    foreign = Document.objects.create(owner=other_user, name="Not yours", processing_status="completed")
    Chunk.objects.create(document=foreign, position=0, text="The chain rule for someone else.")
    resources = api_client.get(url).json()["resources"]
    by_type = {r["type"]: r for r in resources}
    assert set(by_type) == {"document", "flashcards"}
    assert by_type["document"]["title"] == "Derivatives notes"
    assert by_type["flashcards"]["title"].startswith("1 flashcard")
    for r in resources:
        assert {"type", "title", "url", "estimated_time", "difficulty"} <= set(r)


def test_lists_have_constant_query_counts(api_client, plan, make_goal, django_assert_num_queries):
    def fill(n):
        prev = None
        for i in range(n):
            prev = make_goal(f"g{i}", prerequisites=[prev] if prev else [])

    fill(2)
    with django_assert_num_queries(4) as small:  # auth user, count, page, prerequisites prefetch
        api_client.get(GOALS)
    fill(8)
    with django_assert_num_queries(len(small.captured_queries)):
        assert api_client.get(GOALS).json()["count"] == 10
    with django_assert_num_queries(3):
        api_client.get(PLANS)
