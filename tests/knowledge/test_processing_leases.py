"""Document processing on the database queue: the task's lease, not a timer, decides whether a
document is still being processed."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.knowledge.conftest import upload
from tutorhub.core.models import WorkerHeartbeat
from tutorhub.core.task_leases import leases_expire
from tutorhub.knowledge.models import Chunk, Document
from tutorhub.knowledge.services import document_process, documents_requeue_stale

pytestmark = pytest.mark.django_db


@pytest.fixture
def processed(api_client, course):
    """A completed document (processed inline), then the database queue for what follows."""
    doc_id = upload(api_client, course, "a.txt", b"Kinetic energy is half m v squared.").json()["document"]["id"]
    return Document.objects.get(pk=doc_id)


@pytest.fixture
def db_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.TASK_LEASE_SECONDS = 30
    settings.TASK_MAX_ATTEMPTS = 3


def _running_task(document, *, worker_ids=("w1",), beat_ago: float | None) -> DBTaskResult:
    """The document as a worker left it mid-run: its task RUNNING, the worker beating or not."""
    result = DBTaskResult.objects.create(
        status="RUNNING", args_kwargs={"args": [str(document.pk)], "kwargs": {}},
        task_path="tutorhub.knowledge.tasks.document_process_task", backend_name="default",
        worker_ids=list(worker_ids), started_at=timezone.now() - timedelta(minutes=5), run_after=timezone.now(),
    )
    if beat_ago is not None:
        at = timezone.now() - timedelta(seconds=beat_ago)
        WorkerHeartbeat.objects.create(worker_id=worker_ids[-1], started_at=at, heartbeat_at=at, current_task_id=result.pk)
    Document.objects.filter(pk=document.pk).update(
        processing_status="processing", progress_percentage=80, processing_task_id=str(result.pk), updated_at=timezone.now()
    )
    return result


def _reprocess(api_client, document):
    return api_client.post(f"/api/v1/courses/{document.course_id}/documents/{document.pk}/reprocess/")


def test_reprocess_is_refused_while_the_worker_holds_a_live_lease(api_client, processed, db_queue):
    _running_task(processed, beat_ago=2)
    response = _reprocess(api_client, processed)
    assert response.status_code == 409


def test_reprocess_of_a_document_whose_worker_died_is_accepted_at_once(api_client, processed, db_queue):
    _running_task(processed, beat_ago=45)  # updated a moment ago, but nobody beats for the task
    response = _reprocess(api_client, processed)
    assert response.status_code == 202, response.json()
    processed.refresh_from_db()
    assert processed.processing_status == "pending"
    queued = DBTaskResult.objects.get(pk=uuid.UUID(processed.processing_task_id))
    assert queued.status == "READY" and queued.args_kwargs["args"] == [str(processed.pk)]


def test_the_same_task_rerun_after_its_worker_died_takes_the_document_over(processed, db_queue):
    task = _running_task(processed, beat_ago=45)
    assert leases_expire() == {"requeued": 1, "failed": 0}
    document = document_process(document_id=processed.pk, task_id=task.pk)
    assert document.processing_status == "completed" and document.progress_percentage == 100
    assert Chunk.objects.filter(document=processed).count() == 1  # replaced, not duplicated


def test_a_rival_task_leaves_a_document_with_a_live_lease_alone(processed, db_queue):
    _running_task(processed, beat_ago=1)
    assert document_process(document_id=processed.pk, task_id=uuid.uuid4()) is None
    assert Document.objects.get(pk=processed.pk).progress_percentage == 80


def test_a_document_whose_workers_kept_dying_is_failed_not_left_processing(api_client, processed, db_queue):
    _running_task(processed, worker_ids=("w1", "w2", "w3"), beat_ago=None)
    assert leases_expire() == {"requeued": 0, "failed": 1}
    processed.refresh_from_db()
    assert processed.processing_status == "failed"
    assert "interrupted repeatedly" in processed.processing_error
    assert _reprocess(api_client, processed).status_code == 202


def test_requeue_sweep_only_takes_documents_without_a_live_task(processed, db_queue):
    old = timezone.now() - timedelta(minutes=10)
    _running_task(processed, beat_ago=2)
    Document.objects.filter(pk=processed.pk).update(updated_at=old)
    assert documents_requeue_stale() == 0  # slow progress, live worker: leave it

    lost = Document.objects.create(owner=processed.owner, course=processed.course, name="lost", processing_status="pending")
    Document.objects.filter(pk=lost.pk).update(updated_at=old)  # its enqueue never happened
    assert documents_requeue_stale() == 1
    lost.refresh_from_db()
    assert DBTaskResult.objects.get(pk=uuid.UUID(lost.processing_task_id)).status == "READY"
