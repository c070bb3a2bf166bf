"""Sentence vectors from the int8 ONNX export (onnx_model.py) on onnxruntime: no torch in the process.

It reproduces what sentence-transformers does with the model directory, from the same files:
the tokenizer (tokenizer.json, or a WordPiece tokenizer built from vocab.txt with the model's
lower-casing), truncation at the model's max sequence length, the pooling its modules.json and
pooling config name (mean over the attention mask when there is none, as sentence-transformers
defaults), then unit length. tests/moderation/test_onnx_agreement.py holds it to the torch path.
"""

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from django.core.exceptions import ImproperlyConfigured
from tokenizers import Tokenizer
from tokenizers.implementations import BertWordPieceTokenizer

from apps.moderation import onnx_model

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
POOLING_MODES = ("mean", "cls", "max")
_LEGACY_POOLING = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
}
_TORCH_ONLY = "has no ONNX path; use DESK_ENCODER_BACKEND=torch"


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    loaded = json.loads(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else {}


def pooling_mode(model_dir: Path) -> str:
    """The pooling of the model's sentence-transformers pipeline; refuses a pipeline this cannot mirror."""
    modules_file = model_dir / "modules.json"
    if not modules_file.is_file():
        return "mean"  # what sentence-transformers builds for a bare transformer directory
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    kinds = [str(module.get("type", "")).rsplit(".", 1)[-1] for module in modules]
    unsupported = [kind for kind in kinds if kind not in ("Transformer", "Pooling", "Normalize")]
    if unsupported:
        raise ImproperlyConfigured(f"{model_dir}: modules {unsupported} {_TORCH_ONLY}")
    pooling = next((m for m in modules if str(m.get("type", "")).endswith("Pooling")), None)
    if pooling is None:
        raise ImproperlyConfigured(f"{model_dir}: a pipeline without pooling {_TORCH_ONLY}")
    config = _json(model_dir / str(pooling.get("path", "")) / "config.json")
    if "pooling_mode" in config:  # sentence-transformers >= 5 names the mode
        mode = str(config["pooling_mode"])
    else:  # older configs: one boolean per mode
        enabled = [key for key, value in config.items() if key.startswith("pooling_mode_") and value is True]
        mode = _LEGACY_POOLING.get(enabled[0], enabled[0]) if len(enabled) == 1 else "+".join(enabled)
    if mode not in POOLING_MODES:
        raise ImproperlyConfigured(f"{model_dir}: pooling {mode!r} {_TORCH_ONLY}")
    return mode


def max_length(model_dir: Path) -> int:
    """sentence-transformers' max_seq_length: its own config, else the smaller of model and tokenizer limits."""
    configured = _json(model_dir / "sentence_bert_config.json").get("max_seq_length")
    if configured:
        return int(configured)
    positions = int(_json(model_dir / "config.json").get("max_position_embeddings", 512))
    tokenizer_limit = int(_json(model_dir / "tokenizer_config.json").get("model_max_length", positions))
    return min(positions, tokenizer_limit)


def load_tokenizer(model_dir: Path) -> Tokenizer:
    config = _json(model_dir / "tokenizer_config.json")
    if (model_dir / "tokenizer.json").is_file():
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    elif (model_dir / "vocab.txt").is_file():
        tokenizer = BertWordPieceTokenizer(
            str(model_dir / "vocab.txt"),
            lowercase=bool(config.get("do_lower_case", True)),
            strip_accents=config.get("strip_accents"),
            handle_chinese_chars=bool(config.get("tokenize_chinese_chars", True)),
        )._tokenizer
    else:
        raise ImproperlyConfigured(f"{model_dir}: neither tokenizer.json nor vocab.txt")
    pad = str(config.get("pad_token", "[PAD]"))
    pad_id = tokenizer.token_to_id(pad)
    tokenizer.enable_truncation(max_length(model_dir))
    # Padded to the longest text of each batch, as the torch path does.
    tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad)
    return tokenizer


class OnnxEncoder:
    """One onnxruntime session over a verified export; encode() returns unit vectors, one per text."""

    def __init__(self, model_dir: Path, path: Path, *, threads: int = 1, batch_size: int = 32) -> None:
        onnx_model.verify(model_dir, path)
        self.tokenizer = load_tokenizer(model_dir)
        self.pooling = pooling_mode(model_dir)
        self.batch_size = max(batch_size, 1)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(threads, 1)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No CPU arena: it keeps the peak of the largest batch for good. Five batches of 64 long texts in
        # both sessions took a process from 333 to 744 MB with it, to 479 MB without, and no more CPU.
        options.enable_cpu_mem_arena = False
        # Threads that spin between calls burn the cores the worker's other threads need (the torch
        # lesson in docs/benchmarks.md: 73 ms instead of 13 ms of CPU per text with 2 spinning threads).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self._tokenizer_lock = threading.Lock()  # a Tokenizer with padding set is not meant to be shared
        logger.info("sentence model: %s on onnxruntime (%s pooling, %d thread(s))", path.name, self.pooling, threads)

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        # Longest first, in batches: texts of like length pad little (sentence-transformers sorts too).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out: Vectors | None = None
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            vectors = self._batch([texts[i] for i in chunk])
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[chunk] = vectors
        assert out is not None
        return out

    def _batch(self, texts: list[str]) -> Vectors:
        with self._tokenizer_lock:
            encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run([onnx_model.OUTPUT], {k: v for k, v in feed.items() if k in self.inputs})[0]
        hidden = np.asarray(hidden, dtype=np.float32)
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        elif self.pooling == "max":
            pooled = np.where(mask[..., None] > 0, hidden, np.float32(-1e9)).max(axis=1)
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), np.float32(1e-9))
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return (pooled / norms).astype(np.float32)
