from __future__ import annotations

from django.conf import settings
from django.db import models

from tutorhub.core.files import private_name
from tutorhub.core.models import UUIDModel


def document_upload_to(instance: Document, filename: str) -> str:
    """Stored name is ours (random hex + the sniffed type's extension, nothing about the owner):
    the client's filename never touches the filesystem."""
    ext = {"markdown": "md", "text": "txt", "jpeg": "jpg"}.get(instance.document_type, instance.document_type)
    return private_name("documents", extension=ext or "bin")


class Document(UUIDModel):
    """An ingested resource (upload, URL or pasted text) and its processing state (canonical API and chatbot dialect)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    class Type(models.TextChoices):
        PDF = "pdf", "PDF"
        DOCX = "docx", "Word document"
        TEXT = "text", "Plain text"
        MARKDOWN = "markdown", "Markdown"
        HTML = "html", "Web page"
        PNG = "png", "PNG image"
        JPEG = "jpeg", "JPEG image"
        UNKNOWN = "unknown", "Not yet known"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="documents")
    course = models.ForeignKey(
        "courses.Course", on_delete=models.CASCADE, related_name="documents", null=True, blank=True
    )
    section_id = models.UUIDField(null=True, blank=True, help_text="Optional course section.")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    document_type = models.CharField(max_length=16, choices=Type.choices, default=Type.UNKNOWN)
    content_type = models.CharField(max_length=100, blank=True)
    file = models.FileField(upload_to=document_upload_to, max_length=255, blank=True)
    original_filename = models.CharField(max_length=255, blank=True, help_text="Display only.")
    source_url = models.URLField(max_length=2000, blank=True)
    file_size_bytes = models.BigIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    processing_status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress_percentage = models.PositiveSmallIntegerField(default=0)
    processing_error = models.TextField(null=True, blank=True)
    processing_metadata = models.JSONField(default=dict, blank=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    processing_task_id = models.CharField(max_length=64, blank=True)
    extracted_text = models.TextField(blank=True)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    # [{"title", "page", "start", "end"}]: sections as offsets into extracted_text (no copy of the text)
    outline = models.JSONField(default=list, blank=True)
    summary = models.TextField(blank=True)
    topics = models.JSONField(default=list, blank=True)
    key_concepts = models.JSONField(default=list, blank=True)
    embeddings_available = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"]), models.Index(fields=["course", "-created_at"])]

    def __str__(self) -> str:
        return self.name


class Chunk(models.Model):
    """A retrievable passage of a document. Its lexical index (SQLite FTS5 table
    `knowledge_chunk_fts` / PostgreSQL `search_vector` + GIN) is maintained by the database
    (see migration 0002); its vector lives in the vector store under the id `str(pk)`."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    position = models.PositiveIntegerField()
    text = models.TextField()
    page = models.PositiveIntegerField(null=True, blank=True)
    section = models.CharField(max_length=500, null=True, blank=True)
    # "Document › Section › Subsection" (knowledge.chunking): indexed and embedded with `text` so
    # a question naming a section finds it; `text` stays the passage shown to users.
    heading_path = models.TextField(blank=True, default="")
    token_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["document", "position"]
        constraints = [models.UniqueConstraint(fields=["document", "position"], name="chunk_position_unique")]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.position}"

    @property
    def embedding_text(self) -> str:
        """What the embedding model sees: where the passage is, then the passage."""
        return f"{self.heading_path}\n\n{self.text}" if self.heading_path else self.text
