"""Scoping rules, hybrid retrieval (with the fake OpenAI-compatible embeddings server) and the
search endpoint."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.factories import CourseFactory, GroupFactory, UserFactory
from tutorhub.ai import usage_scope
from tutorhub.billing.models import UsageRecord
from tutorhub.knowledge.retrieval import retrieve
from tutorhub.knowledge.services import document_ingest_file, resource_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def school(teacher):
    course = CourseFactory(owner=teacher)
    group = GroupFactory(course=course, teacher=teacher)
    student, outsider = UserFactory(), UserFactory()
    group.students.add(student)
    shared = document_ingest_file(user=teacher, data=b"Osmosis moves water across a membrane.", filename="o.txt", course=course)
    private = resource_add(user=student, title="My osmosis notes", content="Osmosis notes: water follows salt.")
    foreign = resource_add(user=outsider, title="Outsider osmosis", content="Osmosis secrets of another user.")
    return {"course": course, "student": student, "outsider": outsider, "shared": shared, "private": private, "foreign": foreign}


def _doc_ids(passages):
    return {p.document_id for p in passages}


def test_student_sees_own_and_group_course_documents_never_others(school):
    found = _doc_ids(retrieve(user=school["student"], query="osmosis water", k=10))
    assert found == {str(school["shared"].id), str(school["private"].id)}
    assert str(school["foreign"].id) not in _doc_ids(retrieve(user=school["student"], query="osmosis secrets", k=10))
    assert _doc_ids(retrieve(user=school["outsider"], query="osmosis", k=10)) == {str(school["foreign"].id)}


def test_filters_narrow_the_scope(school):
    student = school["student"]
    own_only = retrieve(user=student, query="osmosis", include_course_context=False)
    assert _doc_ids(own_only) == {str(school["private"].id)}
    by_course = retrieve(user=student, query="osmosis", course_ids=[school["course"].id])
    assert _doc_ids(by_course) == {str(school["shared"].id)}
    # explicit ids are still scoped: another user's id is silently ignored
    explicit = retrieve(user=student, query="osmosis", document_ids=[school["shared"].id, school["foreign"].id])
    assert _doc_ids(explicit) == {str(school["shared"].id)}


def test_document_endpoints_are_scoped(school):
    course, shared = school["course"], school["shared"]
    student, outsider = client_for(school["student"]), client_for(school["outsider"])
    listed = student.get(f"/api/v1/courses/{course.id}/documents/").json()
    assert [d["id"] for d in listed["results"]] == [str(shared.id)]
    assert student.get(f"/api/v1/courses/{course.id}/documents/{shared.id}/content/").status_code == 200
    # a student may read but not change the teacher's document
    assert student.delete(f"/api/v1/courses/{course.id}/documents/{shared.id}/").status_code == 403
    assert outsider.get(f"/api/v1/courses/{course.id}/documents/").status_code == 404
    assert outsider.get(f"/api/v1/knowledge/documents/{shared.id}/processing_status/").status_code == 404
    assert outsider.post(f"/api/v1/courses/{course.id}/documents/{shared.id}/reprocess/").status_code == 404
    mine = student.get("/api/v1/knowledge/documents/").json()
    assert {d["id"] for d in mine["results"]} == {str(shared.id), str(school["private"].id)}


def test_students_cannot_upload_into_a_teachers_course(school):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client_for(school["student"]).post(
        f"/api/v1/courses/{school['course'].id}/documents/upload/",
        {"file": SimpleUploadedFile("x.txt", b"text")}, format="multipart",
    )
    assert response.status_code == 403


def test_search_endpoint_shape_and_validation(school):
    client = client_for(school["student"])
    body = client.post("/api/v1/knowledge/search/", {"query": "membrane water", "k": 3}, format="json").json()
    assert body["mode"] == "hybrid" and body["count"] >= 1
    top = body["results"][0]
    assert top["document_id"] == str(school["shared"].id)
    assert set(top["citation"]) == {"document_id", "document_title", "page", "section", "chunk_id", "score"}
    assert top["ranks"] == {"lexical": 1}
    assert client.post("/api/v1/knowledge/search/", {"query": ""}, format="json").status_code == 400
    assert client.post("/api/v1/knowledge/search/", {"query": "x", "k": 500}, format="json").status_code == 400
    assert client.post("/api/v1/knowledge/search/", {"query": "x", "document_ids": ["nope"]}, format="json").status_code == 400
    assert client.post("/api/v1/knowledge/search/", {"query": "\"* OR NEAR( AND"}, format="json").status_code == 200


def test_hybrid_uses_dense_vectors_when_an_embedding_model_is_configured(fake_openai, user, other_user):
    doc = resource_add(user=user, title="Cells", content="The mitochondria is the powerhouse of the cell.\n\nRibosomes build proteins.")
    resource_add(user=other_user, title="Other", content="The mitochondria of another user.")
    assert doc.embeddings_available and doc.processing_metadata["embeddings_created"]
    assert any(path.endswith("/embeddings") for path, _ in fake_openai.requests)
    passages = retrieve(user=user, query="mitochondria powerhouse")
    assert passages[0].document_id == str(doc.id)
    assert set(passages[0].ranks) == {"lexical", "dense"}
    assert {p.document_id for p in passages} == {str(doc.id)}  # the other user's vector is filtered out
    dense = retrieve(user=user, query="powerhouse", mode="dense")
    assert dense and dense[0].ranks.keys() == {"dense"}


def test_query_embedding_usage_is_recorded_for_the_caller(fake_openai, user):
    """The dense half runs in a worker thread; its token usage is still written, by the caller."""
    resource_add(user=user, title="Cells", content="The mitochondria is the powerhouse of the cell.")
    before = UsageRecord.objects.filter(user=user, feature="chat").count()
    with usage_scope(user=user, feature="chat"):
        assert retrieve(user=user, query="mitochondria powerhouse")
    records = UsageRecord.objects.filter(user=user, feature="chat")
    assert records.count() == before + 1
    assert records.latest("created_at").model == "fake-embed"


def test_deleting_a_document_removes_its_vectors(fake_openai, user):
    from tests.fakes.openai_server import fake_embedding
    from tutorhub.ai import vector_stores
    from tutorhub.knowledge.services import document_delete

    doc = resource_add(user=user, title="Cells", content="Ribosomes build proteins.")
    store = vector_stores["default"]
    assert store.query(fake_embedding("Ribosomes build proteins."), filters={"document_id": [str(doc.id)]}, k=5)
    document_delete(user=user, document=doc)
    assert store.query(fake_embedding("Ribosomes build proteins."), filters={"document_id": [str(doc.id)]}, k=5) == []


def test_embedding_outage_degrades_to_lexical(fake_openai, user, settings):
    settings.EMBEDDING_BACKENDS = {"default": {"BACKEND": "tutorhub.ai.backends.openai.OpenAIEmbeddings",
                                               "OPTIONS": {"base_url": "http://127.0.0.1:9/v1", "api_key": "x",
                                                           "model": "m", "timeout": 1.0, "max_retries": 0}}}
    doc = resource_add(user=user, title="Cells", content="Ribosomes build proteins.")
    assert doc.processing_status == "completed" and not doc.embeddings_available
    assert "embedding_error" in doc.processing_metadata
    passages = retrieve(user=user, query="ribosomes")
    assert passages and passages[0].ranks == {"lexical": 1}


def test_llm_failure_keeps_the_document_usable(fake_openai, user):
    fake_openai.push(status=500)
    doc = resource_add(user=user, title="Cells", content="Ribosomes build proteins. Cells divide by mitosis.")
    assert doc.processing_status == "completed"
    assert doc.summary == "" and doc.processing_metadata["summary_generated"] is False
    assert retrieve(user=user, query="mitosis")
