from __future__ import annotations

from django.db.models import Q, QuerySet

from tutorhub.core.querysets import related_count
from tutorhub.courses.selectors import course_ids_visible
from tutorhub.knowledge.models import Chunk, Document


def document_list_visible(*, user) -> QuerySet[Document]:
    """Documents `user` may see: their own, and every document of a course visible to them."""
    return Document.objects.filter(Q(owner=user) | Q(course_id__in=course_ids_visible(user=user)))


# Columns of a document that can hold megabytes (a book's text, its outline) and that no list or
# summary shows: a query for such rows defers them (a page of 20 documents with 300 KB of text each
# spent ~130 ms of CPU reading and grouping them).
DOCUMENT_LARGE_FIELDS = ("extracted_text", "outline")


def document_list_for_api(*, user, course=None, with_content: bool = True) -> QuerySet[Document]:
    """Visible documents with their chunk count annotated (one query for a page of them).
    `with_content=False` leaves the extracted text and outline (up to megabytes a row) in the
    database, for every view that does not show them."""
    documents = document_list_visible(user=user)
    if course is not None:
        documents = documents.filter(course=course)
    documents = documents.annotate(chunk_count=related_count(Chunk, "document")).order_by("-created_at")
    return documents if with_content else documents.defer(*DOCUMENT_LARGE_FIELDS)


def document_refreshed(document: Document) -> Document:
    """`document` as stored now: processing queued on commit may already have moved it on."""
    document.refresh_from_db()
    return document


def document_chunk_count(*, document: Document) -> int:
    return document.chunks.count()


def chunks_for_documents(*, user, document_ids) -> QuerySet[Chunk]:
    """Chunks of the given documents that `user` may see, in reading order (generation input)."""
    return (
        Chunk.objects.filter(document__in=document_list_visible(user=user).filter(id__in=list(document_ids)))
        .select_related("document")
        .order_by("document_id", "position")
    )


def document_sections(document: Document, *, max_chars: int = 4000) -> list[dict]:
    """The document's sections (title + start of their text), from the outline offsets."""
    text = document.extracted_text
    return [
        {"title": part.get("title"), "level": part.get("level"), "page": part.get("page"),
         "content": text[part["start"] : min(part["end"], part["start"] + max_chars)]}
        for part in document.outline or []
    ]
