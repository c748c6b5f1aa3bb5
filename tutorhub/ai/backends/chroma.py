"""ChromaDB vector store: embedded PersistentClient (OPTIONS `path`) or a server (`url`).

The client is created on first use, never at import or construction. Vectors are stored
with cosine distance; `query` returns similarity = 1 - distance (higher is closer).

Filters (store-neutral, translated to Chroma's `where`): `{field: value}` is equality,
`{field: [values]}` is membership, several fields are ANDed, and `{"any": [filter, ...]}`
ORs sub-filters, e.g. `{"any": [{"owner_id": 3}, {"course_id": ["..."]}]}`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlparse

import numpy as np

from tutorhub.ai.base import ProviderError, VectorHit, VectorItem, VectorStore

_BATCH = 4000  # below Chroma's max batch size


def _where(filters: dict[str, Any] | None) -> dict[str, Any] | None:
    if not filters:
        return None
    clauses = []
    for key, value in filters.items():
        if key == "any":
            parts = [w for w in (_where(f) for f in value) if w]
            if not parts:
                continue
            clauses.append(parts[0] if len(parts) == 1 else {"$or": parts})
        elif isinstance(value, list | tuple | set):
            clauses.append({key: {"$in": list(value)}})
        else:
            clauses.append({key: {"$eq": value}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class ChromaVectorStore(VectorStore):
    def __init__(self, *, path: str | None = None, url: str | None = None, collection: str = "tutorhub_chunks", **options):
        super().__init__(**options)
        if not path and not url:
            raise TypeError("ChromaVectorStore needs OPTIONS 'path' (embedded) or 'url' (server).")
        self.path, self.url, self.collection_name = path, url, collection
        self._collection = None
        self._lock = threading.Lock()

    def _get_collection(self):
        if self._collection is not None:
            return self._collection
        with self._lock:
            if self._collection is None:
                try:
                    import chromadb
                    from chromadb.config import Settings

                    settings = Settings(anonymized_telemetry=False, allow_reset=False)
                    if self.url:
                        parsed = urlparse(self.url)
                        client = chromadb.HttpClient(
                            host=parsed.hostname or "localhost",
                            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                            ssl=parsed.scheme == "https",
                            settings=settings,
                        )
                    else:
                        client = chromadb.PersistentClient(path=self.path, settings=settings)
                    # embedding_function=None: vectors always come from tutorhub.ai.embeddings
                    self._collection = client.get_or_create_collection(
                        self.collection_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
                    )
                except Exception as exc:  # connection refused, bad path, server error
                    raise ProviderError(f"Vector store unavailable: {type(exc).__name__}: {exc}") from exc
        return self._collection

    def upsert(self, items: Iterable[VectorItem]) -> None:
        items = list(items)
        collection = self._get_collection()
        try:
            for start in range(0, len(items), _BATCH):
                batch = items[start : start + _BATCH]
                collection.upsert(
                    ids=[i.id for i in batch],
                    embeddings=[i.vector for i in batch],
                    metadatas=[{**{k: v for k, v in i.metadata.items() if v is not None}, "document_id": i.document_id} for i in batch],
                )
        except Exception as exc:
            raise ProviderError(f"Vector store upsert failed: {type(exc).__name__}: {exc}") from exc

    def ping(self) -> None:
        if self.path and self._collection is None:
            # Embedded and not opened yet: what can fail is the disk. Opening it here would
            # import chromadb (seconds) on a readiness probe of a process that may not need it.
            existing = next((p for p in (self.path, os.path.dirname(self.path.rstrip("/")) or ".") if os.path.isdir(p)), None)
            if existing is None or not os.access(existing, os.R_OK | os.W_OK):
                raise ProviderError(f"Vector store unavailable: {self.path} is not a writable directory")
            return
        collection = self._get_collection()
        try:
            collection.count()  # a request to the server (HTTP client) or a read of the files
        except Exception as exc:
            raise ProviderError(f"Vector store unavailable: {type(exc).__name__}: {exc}") from exc

    def delete(self, document_id: str) -> None:
        collection = self._get_collection()
        try:
            collection.delete(where={"document_id": {"$eq": str(document_id)}})
        except Exception as exc:
            raise ProviderError(f"Vector store delete failed: {type(exc).__name__}: {exc}") from exc

    def query(self, vector: list[float], *, filters: dict[str, Any] | None = None, k: int = 10) -> list[VectorHit]:
        collection = self._get_collection()
        try:
            result = collection.query(
                query_embeddings=[vector], n_results=k, where=_where(filters), include=["distances", "metadatas"]
            )
        except Exception as exc:
            raise ProviderError(f"Vector store query failed: {type(exc).__name__}: {exc}") from exc
        ids = (result.get("ids") or [[]])[0]
        distances = (result.get("distances") or [[]])[0]
        metadatas = (result.get("metadatas") or [[]])[0] or [{}] * len(ids)
        return [VectorHit(id=i, score=1.0 - float(d), metadata=dict(m or {})) for i, d, m in zip(ids, distances, metadatas, strict=False)]

    def similarities(self, vector: list[float], ids: list[str]) -> dict[str, float]:
        if not ids:
            return {}
        collection = self._get_collection()
        try:
            result = collection.get(ids=list(ids), include=["embeddings"])
        except Exception as exc:
            raise ProviderError(f"Vector store read failed: {type(exc).__name__}: {exc}") from exc
        found = result.get("ids") or []
        if not found:
            return {}
        stored = np.asarray(result["embeddings"], dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32)
        # Cosine similarity, as the collection's cosine distance makes `query`'s 1 - distance.
        norms = np.linalg.norm(stored, axis=1) * (float(np.linalg.norm(query)) or 1.0)
        scores = stored @ query / np.where(norms > 0, norms, 1.0)
        return {i: float(score) for i, score in zip(found, scores, strict=True)}
