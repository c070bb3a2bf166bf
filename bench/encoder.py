"""Sentence encoder benchmark: CPU per text of torch against the ONNX exports, and memory after loading.

    python bench/encoder.py [--rounds 3]

1. In this process, one thread each: sentence-transformers on torch (DESK_ENCODER_BACKEND=torch), the
   fp32 ONNX export and the int8 one (the default) on onnxruntime, each encoding the demo shop's
   customer questions (peers/moderation_dataset.shop_questions) one text per call and in batches of 8
   and 32. CPU time (process_time, so other processes on the box do not count), best of --rounds.
2. RSS: each backend loaded in a fresh subprocess (after django.setup(), then one encode), since a
   process that loaded torch never gives that memory back.

The fp32 export is written once into bench/out/ (git-ignored); the int8 one is `make install`'s.
"""

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

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
from apps.moderation.semantic import model_path  # noqa: E402

BACKENDS = ("torch", "onnx-fp32", "onnx-int8")
SIZES = (1, 8, 32)
FP32_DIR = ROOT / "bench" / "out" / "encoder"

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

    if backend == "onnx-fp32":
        path = onnx_model.export(spec, FP32_DIR, variant="fp32")
    else:
        configured = Path(settings.DESK_ENCODER_MODEL_DIR) if settings.DESK_ENCODER_MODEL_DIR else None
        path = onnx_model.onnx_path(directory, "int8", configured)
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
    parser.add_argument("--rss", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from peers.moderation_dataset import shop_questions

    texts = shop_questions()
    if args.rss:
        before = _rss_mb()
        load(args.rss)(texts[:8], 8)
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
    print("\nRSS (fresh process per backend; MB after django.setup() -> after load + one encode):")
    for backend in BACKENDS:
        before, after = rss_of(backend)
        print(f"  {backend:10} {before:6.0f} -> {after:6.0f} MB  (+{after - before:.0f})")


if __name__ == "__main__":
    main()
