"""Sentence encoder benchmark: CPU per text of torch against the ONNX exports and the cascade, and memory.

    python bench/encoder.py [--rounds 3]

1. In this process, one thread each: sentence-transformers on torch (DESK_ENCODER_BACKEND=torch), the
   fp32 ONNX export and the int8 one on onnxruntime, each encoding the demo shop's customer questions
   (peers/moderation_dataset.shop_questions) one text per call and in batches of 8 and 32. CPU time
   (process_time, so other processes on the box do not count), best of --rounds.
2. The cascade (the default: int8 per message, fp32 again near a threshold, apps/moderation/semantic.py):
   the share of texts that took the fp32 recheck in the demo semantic rules (questions inbound, the shop's
   replies outbound) and the demo store's knowledge search, and the effective CPU per text,
   int8 + share x fp32, at each batch size.
3. RSS: each backend loaded in a fresh subprocess (after django.setup(), then one encode), since a
   process that loaded torch never gives that memory back; the cascade loads both exports.

Both exports are `make install`'s (.models/, or DESK_ENCODER_MODEL_DIR).
"""

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Not bench/ itself (python puts the script's directory first): bench/profile.py would shadow the
# standard library's profile, which torch imports through cProfile.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
os.environ.setdefault("DESK_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402

from apps.moderation import onnx_model  # noqa: E402
from apps.moderation.semantic import Embedder, Vectors, model_path  # noqa: E402

BACKENDS = ("torch", "onnx-fp32", "onnx-int8")
SIZES = (1, 8, 32)

Encode = Callable[[list[str], int], np.ndarray]


def load(backend: str) -> Encode:
    spec = settings.DESK_MODERATION_MODEL
    directory = model_path(spec)
    if backend == "torch":
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(1)
        model = SentenceTransformer(str(directory), device="cpu", local_files_only=True)

        def torch_encode(texts: list[str], batch: int) -> np.ndarray:
            return np.asarray(model.encode(texts, batch_size=batch, normalize_embeddings=True, show_progress_bar=False))

        return torch_encode
    from apps.moderation.onnx_encoder import OnnxEncoder

    configured = Path(settings.DESK_ENCODER_MODEL_DIR) if settings.DESK_ENCODER_MODEL_DIR else None
    path = onnx_model.onnx_path(directory, backend.removeprefix("onnx-"), configured)
    encoder = OnnxEncoder(directory, path, threads=1, batch_size=32)

    def onnx_encode(texts: list[str], batch: int) -> np.ndarray:
        encoder.batch_size = batch  # one session; a call is split into batch_size chunks
        return encoder.encode(texts)

    return onnx_encode


def cpu_ms_per_text(encode: Encode, texts: list[str], size: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for start in range(0, len(texts), size):
            encode(texts[start : start + size], size)
        best = min(best, (time.process_time() - started) * 1000 / len(texts))
    return best


class Recorder(Embedder):
    """The cascade's embedder, noting which texts took the fp32 recheck."""

    def __init__(self) -> None:
        super().__init__(backend="onnx")
        self.texts: set[str] = set()

    def recheck(self, texts: Sequence[str], *, stage: str) -> Vectors:
        self.texts.update(texts)
        return super().recheck(texts, stage=stage)


def recheck_shares() -> dict[str, tuple[int, int]]:
    """(texts rechecked, texts) per bench set, as the desk's moderation and knowledge steps see them."""
    from apps.knowledge.index import EntryRecord, Index
    from apps.knowledge.management.commands.knowledge_demo import demo_store_rows
    from apps.moderation.demo import demo_semantic_rules
    from apps.moderation.semantic import SemanticRules
    from peers.moderation_dataset import shop_questions, shop_replies

    recorder = Recorder()
    rules = SemanticRules(demo_semantic_rules(), recorder)
    records = []
    for i, row in enumerate(demo_store_rows()):
        variants = (v.strip() for v in row["variants"].splitlines())
        phrases = tuple(dict.fromkeys([row["question"], *(v for v in variants if v)]))
        records.append(EntryRecord(i, row["question"], row["answer"], phrases, row["direct_answer"] == "1", None))
    store = Index(version="bench", records=records, embedder=recorder)
    questions, replies = shop_questions(), shop_replies()
    shares: dict[str, tuple[int, int]] = {}

    def counted(name: str, texts: list[str], step: Callable[[list[str]], object]) -> None:
        recorder.texts.clear()
        step(texts)
        shares[name] = (len(recorder.texts), len(texts))

    counted("questions: semantic rules", questions, lambda texts: [rules.best([t]) for t in texts])
    counted("questions: knowledge search", questions, lambda texts: [store.search(t, **_search()) for t in texts])
    counted("replies: semantic rules", replies, lambda texts: [rules.best([t]) for t in texts])

    def inbound(texts: list[str]) -> None:
        for text in texts:  # what a question costs: moderation then the search (one recheck serves both)
            rules.best([text])
            store.search(text, **_search())

    counted("questions: both steps", questions, inbound)
    return shares


def _search() -> dict[str, Any]:
    """KnowledgeBase.search's settings."""
    return {
        "k": settings.KNOWLEDGE_TOP_K,
        "threshold": settings.KNOWLEDGE_DIRECT_THRESHOLD,
        "margin": settings.KNOWLEDGE_DIRECT_MARGIN,
        "lexical_weight": settings.KNOWLEDGE_LEXICAL_WEIGHT,
        "agree_threshold": settings.KNOWLEDGE_DIRECT_AGREE_THRESHOLD,
        "agree_lexical": settings.KNOWLEDGE_DIRECT_AGREE_LEXICAL,
        "fallback_threshold": settings.KNOWLEDGE_FALLBACK_MIN_SCORE,
        "fallback_lexical": settings.KNOWLEDGE_FALLBACK_MIN_LEXICAL,
    }


def rss_of(backend: str) -> tuple[float, float]:
    """(RSS after django.setup(), RSS after loading and one encode), MB, in a fresh process."""
    done = subprocess.run(
        [sys.executable, __file__, "--rss", backend], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    before, after = done.stdout.split()[-2:]
    return float(before), float(after)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rss", choices=(*BACKENDS, "onnx-cascade"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    from peers.moderation_dataset import shop_questions

    texts = shop_questions()
    if args.rss:
        before = _rss_mb()
        for backend in ("onnx-int8", "onnx-fp32") if args.rss == "onnx-cascade" else (args.rss,):
            load(backend)(texts[:8], 8)
        print(f"{before:.0f} {_rss_mb():.0f}")
        return

    print(
        f"{len(texts)} customer questions, 1 thread, CPU ms per text (best of {args.rounds}); load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    figures: dict[str, dict[int, float]] = {}
    for backend in BACKENDS:
        encode = load(backend)
        encode(texts[:32], 32)  # warm-up: first-run allocations and lazy initialisation
        figures[backend] = {size: cpu_ms_per_text(encode, texts, size, args.rounds) for size in SIZES}
    print(f"| backend | {' | '.join(f'{s} per call' for s in SIZES)} |")
    print(f"|---|{'---|' * len(SIZES)}")
    for backend in BACKENDS:
        cells = []
        for size in SIZES:
            ms, ratio = figures[backend][size], figures["torch"][size] / figures[backend][size]
            cells.append(f"{ms:.2f} ms" + ("" if backend == "torch" else f" ({ratio:.1f}x less)"))
        print(f"| {backend} | {' | '.join(cells)} |")

    shares = recheck_shares()
    print(f"\nCascade (DESK_ENCODER_RECHECK_MARGIN={settings.DESK_ENCODER_RECHECK_MARGIN}): texts re-encoded in fp32")
    for name, (rechecked, total) in shares.items():
        print(f"  {name:28} {rechecked:4d} of {total:4d} ({rechecked / total:.1%})")
    rechecked, total = shares["questions: both steps"]
    share = rechecked / total
    cells = []
    for size in SIZES:
        ms = figures["onnx-int8"][size] + share * figures["onnx-fp32"][size]
        cells.append(f"{ms:.2f} ms ({figures['torch'][size] / ms:.1f}x less)")
    print(f"| cascade, questions ({share:.1%} rechecked) | {' | '.join(cells)} |")
    print("\nRSS (fresh process per backend; MB after django.setup() -> after load + one encode):")
    for backend in (*BACKENDS, "onnx-cascade"):
        before, after = rss_of(backend)
        print(f"  {backend:10} {before:6.0f} -> {after:6.0f} MB  (+{after - before:.0f})")


if __name__ == "__main__":
    main()
