# Placeholder until the Chroma vector store lands (issue 4).
from __future__ import annotations

from tutorhub.ai.base import VectorStore


class ChromaVectorStore(VectorStore):
    def upsert(self, items):
        raise NotImplementedError

    def delete(self, document_id):
        raise NotImplementedError

    def query(self, vector, *, filters=None, k=10):
        raise NotImplementedError
