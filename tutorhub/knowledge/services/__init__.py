"""Knowledge-base use cases, split by sub-domain (re-exported here for callers):

- ingestion: upload, URL, pasted text and other apps' files become Documents (+ permissions);
- processing: the pipeline run by the worker (fetch → extract → chunk → lexical index →
  embeddings → summary → completed), failures stored on the document;
- maintenance: reprocess, delete, requeue documents a dead worker left behind, embed documents
  indexed while no embedding model was usable (backfill).
"""

from tutorhub.knowledge.services.ingestion import (
    document_ingest_file,
    document_upload,
    document_upload_url,
    resource_add,
)
from tutorhub.knowledge.services.maintenance import (
    document_delete,
    document_reprocess,
    documents_requeue_stale,
    embeddings_backfill,
)
from tutorhub.knowledge.services.processing import document_process

__all__ = [
    "document_delete",
    "document_ingest_file",
    "document_process",
    "document_reprocess",
    "document_upload",
    "document_upload_url",
    "documents_requeue_stale",
    "embeddings_backfill",
    "resource_add",
]
