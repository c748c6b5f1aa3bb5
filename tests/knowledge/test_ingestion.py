"""Upload → background processing → content, with real generated files and the failure cases."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from benchmarks.hostile_files import pdf_sharing_stream
from tests.knowledge.conftest import make_docx, make_pdf, make_png, upload
from tutorhub.knowledge.models import Chunk, Document

pytestmark = pytest.mark.django_db

PAGES = [
    "Chapter one: limits.\nA limit describes the value a function approaches as the input approaches a point.",
    "Chapter two: derivatives.\nThe derivative measures the instantaneous rate of change of a function.\nThe chain rule differentiates composite functions.",
    "Chapter three: integrals.\nIntegration accumulates quantities; the fundamental theorem links it to derivatives.",
]


def test_pdf_upload_keeps_pages_and_reports_progress(api_client, course):
    response = upload(api_client, course, "calculus.pdf", make_pdf(PAGES), name="Calculus notes", description="Ch 1-3")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["upload_status"] == "success"
    assert set(body["document"]) >= {"id", "name", "document_type", "file_size_bytes", "processing_status", "created_at"}
    assert body["document"]["document_type"] == "pdf"
    assert body["document"]["name"] == "Calculus notes"
    assert body["processing_id"] and body["estimated_processing_time"] > 0
    doc_id = body["document"]["id"]

    status = api_client.get(f"/api/v1/courses/{course.id}/documents/{doc_id}/processing_status/").json()
    assert status["processing_status"] == "completed"
    assert status["progress_percentage"] == 100
    assert status["processing_error"] is None
    assert status["extracted_content_available"] is True
    assert status["processing_metadata"]["pages_processed"] == 3
    assert status["processing_metadata"]["text_extracted"] is True
    assert status["processing_metadata"]["summary_generated"] is True
    assert status["processing_metadata"]["embeddings_created"] is False  # no embedding model configured

    pages = sorted(set(Chunk.objects.filter(document_id=doc_id).values_list("page", flat=True)))
    assert pages == [1, 2, 3]
    content = api_client.get(f"/api/v1/courses/{course.id}/documents/{doc_id}/content/").json()
    assert "chain rule" in content["extracted_text"]
    assert content["summary"]
    assert content["topics"] and content["key_concepts"]
    assert [s["title"] for s in content["sections"]] == ["Page 1", "Page 2", "Page 3"]
    assert content["chunk_count"] == Chunk.objects.filter(document_id=doc_id).count()
    assert content["embeddings_available"] is False

    hits = api_client.post("/api/v1/knowledge/search/", {"query": "chain rule composite functions"}, format="json").json()
    assert hits["results"][0]["page"] == 2
    assert hits["results"][0]["citation"] == {
        "document_id": doc_id, "document_title": "Calculus notes", "page": 2, "section": None,
        "chunk_id": hits["results"][0]["chunk_id"], "score": hits["results"][0]["citation"]["score"],
    }


def test_docx_headings_become_sections(api_client, course):
    data = make_docx([
        ("Photosynthesis", ["Plants convert light energy into chemical energy stored in glucose."]),
        ("Cellular respiration", ["Mitochondria release energy from glucose by oxidation."]),
    ])
    response = upload(api_client, course, "biology.docx", data)
    assert response.status_code == 201
    doc = Document.objects.get(pk=response.json()["document"]["id"])
    assert doc.document_type == "docx" and doc.processing_status == "completed"
    assert doc.name == "biology"
    assert list(doc.chunks.values_list("section", flat=True)) == ["Photosynthesis", "Cellular respiration"]
    hit = api_client.post("/api/v1/knowledge/search/", {"query": "mitochondria oxidation"}, format="json").json()["results"][0]
    assert hit["section"] == "Cellular respiration"


def test_markdown_and_html_headings(api_client, course):
    md = b"# Vectors\n\nA vector has magnitude and direction.\n\n## Dot product\n\nThe dot product multiplies lengths and the cosine."
    html = b"<html><head><title>Waves</title><script>var x=1;</script></head><body><nav>menu</nav><h1>Waves</h1><p>A wave carries energy.</p><h2>Frequency</h2><p>Frequency counts oscillations per second.</p></body></html>"
    md_doc = Document.objects.get(pk=upload(api_client, course, "vectors.md", md).json()["document"]["id"])
    html_doc = Document.objects.get(pk=upload(api_client, course, "page.html", html).json()["document"]["id"])
    assert md_doc.document_type == "markdown"
    assert list(md_doc.chunks.values_list("section", flat=True)) == ["Vectors", "Dot product"]
    assert html_doc.document_type == "html"
    assert list(html_doc.chunks.values_list("section", flat=True)) == ["Waves", "Frequency"]
    assert "menu" not in html_doc.extracted_text and "var x" not in html_doc.extracted_text


def test_image_is_read_with_ocr(api_client, course):
    data = make_png(["Photosynthesis makes glucose", "from sunlight and water"])
    response = upload(api_client, course, "board.png", data)
    doc = Document.objects.get(pk=response.json()["document"]["id"])
    assert doc.document_type == "png"
    assert doc.processing_status == "completed", doc.processing_error
    assert "photosynthesis" in doc.extracted_text.lower()
    assert doc.processing_metadata["ocr"] is True


def test_type_is_sniffed_not_taken_from_the_name(api_client, course):
    response = upload(api_client, course, "notes.pdf", b"Plain text notes about vectors and matrices.")
    assert response.status_code == 201
    assert response.json()["document"]["document_type"] == "text"
    refused = upload(api_client, course, "virus.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00binary")
    assert refused.status_code == 415
    assert refused.json()["error_code"] == "UNSUPPORTED_FILE_TYPE"
    assert not Document.objects.filter(name="virus").exists()


def test_filenames_never_reach_the_filesystem(api_client, course):
    response = upload(api_client, course, "../../etc/passwd.txt", b"Some harmless study notes.")
    doc = Document.objects.get(pk=response.json()["document"]["id"])
    # A random name: nothing of the client's filename or of the owner (issue 11).
    assert re.fullmatch(r"documents/[0-9a-f]{32}\.txt", doc.file.name), doc.file.name
    assert ".." not in doc.file.name and "passwd" not in doc.file.name
    assert doc.original_filename == "passwd.txt"


def test_size_limit_from_settings(api_client, course, settings):
    settings.DOCUMENT_UPLOAD_MAX_SIZE = 100
    response = upload(api_client, course, "big.txt", b"x" * 101)
    assert response.status_code == 413
    assert response.json()["error_code"] == "FILE_TOO_LARGE"
    limits = api_client.get(f"/api/v1/courses/{course.id}/documents/upload_limits/").json()
    assert limits["max_file_size_bytes"] == 100
    assert "application/pdf" in limits["allowed_content_types"]
    assert "image/png" in limits["allowed_content_types"]
    assert "web_page" in limits["supported_url_types"]


def test_encrypted_pdf_fails_with_a_clear_error(api_client, course):
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(["secret page"]))))
    writer.encrypt(user_password="letmein", owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    doc_id = upload(api_client, course, "locked.pdf", buffer.getvalue()).json()["document"]["id"]
    status = api_client.get(f"/api/v1/courses/{course.id}/documents/{doc_id}/processing_status/").json()
    assert status["processing_status"] == "failed"
    assert "password-protected" in status["processing_error"]


def test_broken_pdf_fails_and_can_be_reprocessed(api_client, course):
    doc_id = upload(api_client, course, "broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage").json()["document"]["id"]
    doc = Document.objects.get(pk=doc_id)
    assert doc.processing_status == "failed"
    assert "PDF" in doc.processing_error
    again = api_client.post(f"/api/v1/courses/{course.id}/documents/{doc_id}/reprocess/")
    assert again.status_code == 202
    assert Document.objects.get(pk=doc_id).attempts == 2


def test_docx_zip_bomb_is_refused(api_client, course):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr("word/media/bomb.bin", b"\0" * (30 * 1024 * 1024))
    doc_id = upload(api_client, course, "bomb.docx", buffer.getvalue()).json()["document"]["id"]
    doc = Document.objects.get(pk=doc_id)
    assert doc.processing_status == "failed"
    assert "decompression limit" in doc.processing_error


def test_pdf_decompression_bomb_is_refused(api_client, course):
    # 80 MB of content in an 80 KB stream: past pypdf's own inflate limit (75 MB), which holds in
    # the extraction sandbox too (the sandbox's memory cap would stop a larger one).
    bomb = pdf_sharing_stream(b"\0" * (80 * 1024 * 1024) + b"BT () Tj ET\n")
    assert len(bomb) < 200_000
    doc = Document.objects.get(pk=upload(api_client, course, "bomb.pdf", bomb).json()["document"]["id"])
    assert doc.processing_status == "failed"
    assert "decompression limit" in doc.processing_error


def test_unexpected_error_fails_the_document_not_the_worker(api_client, course, monkeypatch):
    from tutorhub.knowledge.services import processing as services

    def boom(data, kind):
        raise RuntimeError("parser bug with internal details")

    monkeypatch.setattr(services, "extract_sandboxed", boom)
    doc = Document.objects.get(pk=upload(api_client, course, "a.txt", b"hello world").json()["document"]["id"])
    assert doc.processing_status == "failed"
    assert doc.processing_error == "Processing failed unexpectedly (RuntimeError); try reprocessing."
    assert "internal details" not in doc.processing_error


def test_reprocess_refuses_a_fresh_run_but_takes_over_a_stale_one(api_client, course):
    doc_id = upload(api_client, course, "a.txt", b"Kinetic energy is half m v squared.").json()["document"]["id"]
    Document.objects.filter(pk=doc_id).update(processing_status="processing", progress_percentage=35, updated_at=timezone.now())
    busy = api_client.post(f"/api/v1/courses/{course.id}/documents/{doc_id}/reprocess/")
    assert busy.status_code == 409
    Document.objects.filter(pk=doc_id).update(updated_at=timezone.now() - timedelta(hours=2))
    retried = api_client.post(f"/api/v1/courses/{course.id}/documents/{doc_id}/reprocess/")
    assert retried.status_code == 202
    doc = Document.objects.get(pk=doc_id)
    assert doc.processing_status == "completed" and doc.progress_percentage == 100
    assert doc.chunks.count() == 1  # old chunks replaced, not duplicated


def test_stale_documents_are_requeued(user, course):
    from tutorhub.knowledge.services import document_ingest_file, documents_requeue_stale

    doc = document_ingest_file(user=user, data=b"Momentum is mass times velocity.", filename="m.txt", course=course)
    Document.objects.filter(pk=doc.pk).update(processing_status="processing", updated_at=timezone.now() - timedelta(hours=1))
    assert documents_requeue_stale() == 1
    assert Document.objects.get(pk=doc.pk).processing_status == "completed"


def test_delete_removes_chunks_index_and_file(api_client, course):
    doc_id = upload(api_client, course, "a.txt", b"Entropy always increases in an isolated system.").json()["document"]["id"]
    doc = Document.objects.get(pk=doc_id)
    path = doc.file.path
    assert api_client.post("/api/v1/knowledge/search/", {"query": "entropy"}, format="json").json()["count"] == 1
    assert api_client.delete(f"/api/v1/courses/{course.id}/documents/{doc_id}/").status_code == 204
    assert not Chunk.objects.filter(document_id=doc_id).exists()
    assert api_client.post("/api/v1/knowledge/search/", {"query": "entropy"}, format="json").json()["count"] == 0
    import os

    assert not os.path.exists(path)


def test_resource_add_seed_000(api_client):
    response = api_client.post(
        "/api/resources/add/",
        {"title": "Intro to Machine Learning", "content": "Machine learning is a subset of AI that enables systems to learn from data."},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["message"] == "Resource ingested and indexed."
    hits = api_client.post("/api/v1/knowledge/search/", {"query": "learn from data"}, format="json").json()
    assert hits["results"][0]["document_title"] == "Intro to Machine Learning"
    assert api_client.post("/api/resources/add/", {"title": "x"}, format="json").status_code == 400


def test_uploads_are_throttled(api_client, course, settings):
    settings.THROTTLING_ENABLED = True
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "uploads": "2/hour"}}
    from django.core.cache import cache

    cache.clear()
    codes = [upload(api_client, course, f"{i}.txt", b"some text").status_code for i in range(3)]
    assert codes == [201, 201, 429]


def test_list_is_paginated_with_constant_queries(api_client, course, user, django_assert_num_queries):
    from tutorhub.knowledge.services import document_ingest_file

    for i in range(3):
        document_ingest_file(user=user, data=f"Topic {i} notes".encode(), filename=f"{i}.txt", course=course)
    url = f"/api/v1/courses/{course.id}/documents/"
    with django_assert_num_queries(4):  # auth user, course lookup, count, page (chunk counts annotated)
        body = api_client.get(url).json()
    assert body["count"] == 3 and len(body["results"]) == 3
    for i in range(3, 8):
        document_ingest_file(user=user, data=f"Topic {i} notes".encode(), filename=f"{i}.txt", course=course)
    with django_assert_num_queries(4):
        assert api_client.get(url).json()["count"] == 8
    assert body["results"][0]["chunk_count"] == 1
