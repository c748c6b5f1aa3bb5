"""Chunk.heading_path ("Document › Section › Subsection"), filled in for existing chunks from
their document's outline, and indexed with the text.

SQLite: the FTS5 table gets a second column (heading_path, text) so BM25 can weight a match in
the path apart from one in the passage; the triggers follow both columns. PostgreSQL: the
generated search_vector becomes the path (weight B) plus the text (weight D), ranked with
explicit weights in indexing.py. Vectors already in the vector store keep their old embedding
(text only) until the document is reprocessed or re-embedded.
"""

from importlib import import_module

from django.db import migrations, models

from tutorhub.knowledge.chunking import heading_paths

_initial = import_module("tutorhub.knowledge.migrations.0002_lexical_index")

SQLITE_UP = [
    "DROP TRIGGER IF EXISTS knowledge_chunk_au",
    "DROP TRIGGER IF EXISTS knowledge_chunk_ad",
    "DROP TRIGGER IF EXISTS knowledge_chunk_ai",
    "DROP TABLE IF EXISTS knowledge_chunk_fts",
    "CREATE VIRTUAL TABLE knowledge_chunk_fts USING fts5(heading_path, text, content='knowledge_chunk', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER knowledge_chunk_ai AFTER INSERT ON knowledge_chunk BEGIN INSERT INTO knowledge_chunk_fts(rowid, heading_path, text) VALUES (new.id, new.heading_path, new.text); END",
    "CREATE TRIGGER knowledge_chunk_ad AFTER DELETE ON knowledge_chunk BEGIN INSERT INTO knowledge_chunk_fts(knowledge_chunk_fts, rowid, heading_path, text) VALUES ('delete', old.id, old.heading_path, old.text); END",
    "CREATE TRIGGER knowledge_chunk_au AFTER UPDATE OF text, heading_path ON knowledge_chunk BEGIN INSERT INTO knowledge_chunk_fts(knowledge_chunk_fts, rowid, heading_path, text) VALUES ('delete', old.id, old.heading_path, old.text); INSERT INTO knowledge_chunk_fts(rowid, heading_path, text) VALUES (new.id, new.heading_path, new.text); END",
    "INSERT INTO knowledge_chunk_fts(knowledge_chunk_fts) VALUES ('rebuild')",
]
# Down: back to 0002's single-column table and its triggers.
SQLITE_DOWN = SQLITE_UP[:4] + _initial.SQLITE_UP
POSTGRES_UP = [
    "ALTER TABLE knowledge_chunk DROP COLUMN IF EXISTS search_vector",
    "ALTER TABLE knowledge_chunk ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(setweight(to_tsvector('english', heading_path), 'B') || setweight(to_tsvector('english', text), 'D')) STORED",
    "CREATE INDEX knowledge_chunk_search_gin ON knowledge_chunk USING GIN (search_vector)",
]
POSTGRES_DOWN = ["ALTER TABLE knowledge_chunk DROP COLUMN IF EXISTS search_vector", *_initial.POSTGRES_UP]
_run = _initial._run


def fill_heading_paths(apps, schema_editor):
    Document = apps.get_model("knowledge", "Document")
    Chunk = apps.get_model("knowledge", "Chunk")
    documents = Document.objects.filter(chunks__isnull=False).distinct().only("id", "name", "outline")
    for document in documents.iterator(chunk_size=200):
        chunks = list(Chunk.objects.filter(document_id=document.id).only("id", "section", "page").order_by("position"))
        paths = heading_paths(document.name, document.outline or [], ((c.section, c.page) for c in chunks))
        for chunk, path in zip(chunks, paths, strict=True):
            chunk.heading_path = path
        Chunk.objects.bulk_update(chunks, ["heading_path"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0002_lexical_index")]

    operations = [
        migrations.AddField(
            model_name="chunk",
            name="heading_path",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(fill_heading_paths, migrations.RunPython.noop),
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        ),
    ]
