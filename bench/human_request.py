"""Asking for a person: precision and recall of the old phrase rule and of the default detector.

    python bench/human_request.py [--threshold 0.7]

The labelled set is peers/human_request_dataset.py (Chinese customer messages: requests for a
person, messages about staff that do not ask, shop questions); the detector is fitted on the
examples the desk ships (apps/knowledge/migrations/0003_human_request_examples.py), none of which is
in the set. In one process, on the same messages:

1. Old rule: DESK_HUMAN_REQUEST_PHRASES as it was before the detector (the four phrases, substring
   after dropping spaces; apps.conversations.pipeline.PhraseDetector).
2. The detector (apps.knowledge.human_request.ExampleModel: short forms, the long-message skip, the
   classifier) at the given threshold: figures, routes, time per message (one fresh encode each:
   no message was encoded before it is timed), and the misclassified messages.
3. A threshold sweep over the classifier's scores, and the nearest-example rule with a margin (what
   was tried first) over a grid, on the same messages.
4. 10-fold cross-validation on the shipped examples alone (five shuffles pooled), over the
   classifier's settings: how the defaults (REGULARISATION_C, NGRAM_WEIGHT,
   DESK_HUMAN_REQUEST_THRESHOLD) were chosen without looking at the labelled set.

No database; the sentence model loads in-process (a few seconds).
"""

import argparse
import importlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
os.environ.setdefault("DESK_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402

from apps.knowledge.human_request import (  # noqa: E402
    NGRAM_WEIGHT,
    REGULARISATION_C,
    Classifier,
    ExampleModel,
    normalised,
    phrase_forms,
)
from apps.moderation.semantic import Embedder  # noqa: E402
from peers.human_request_dataset import MESSAGES  # noqa: E402

T = TypeVar("T")
OLD_PHRASES = ("转人工", "人工客服", "人工服务", "找人工")
_seed = importlib.import_module("apps.knowledge.migrations.0003_human_request_examples")
EXAMPLES: list[tuple[str, bool]] = [(t, True) for t in _seed.POSITIVE] + [(t, False) for t in _seed.NEGATIVE]
TRUTH = np.array([m.asks for m in MESSAGES])
THRESHOLD = settings.DESK_HUMAN_REQUEST_THRESHOLD


def figures(predicted: Sequence[bool] | np.ndarray, truth: np.ndarray = TRUTH) -> dict[str, float]:
    pred = np.asarray(predicted, dtype=bool)
    tp, fp, fn = int((pred & truth).sum()), int((pred & ~truth).sum()), int((~pred & truth).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "fp": fp, "fn": fn}


def row(name: str, f: dict[str, float], extra: str = "") -> str:
    return (
        f"| {name} | {f['precision']:.1%} | {f['recall']:.1%} | {f['f1']:.3f} | {f['fp']:.0f} | {f['fn']:.0f} |{extra}"
    )


HEADER = "| rule | precision | recall | F1 | false alarms | missed |\n| --- | --- | --- | --- | --- | --- |"


def spread(ms: Sequence[float]) -> str:
    return " / ".join(f"{v:.3f}" for v in (statistics.mean(ms), *np.percentile(ms, [50, 95]), max(ms)))


def old_rule(text: str) -> bool:
    squashed = "".join(text.split()).lower()
    return any(phrase in squashed for phrase in OLD_PHRASES)


def timed(decide: Callable[[str], T]) -> tuple[list[T], list[float]]:
    results: list[T] = []
    times: list[float] = []
    for message in MESSAGES:
        started = time.perf_counter()
        results.append(decide(message.text))
        times.append((time.perf_counter() - started) * 1000)
    return results, times


def cross_validate(vectors: np.ndarray, folds: int = 10, repeats: int = 5) -> None:
    texts = [t for t, _ in EXAMPLES]
    labels = np.array([a for _, a in EXAMPLES])
    print(f"\n{folds}-fold cross-validation on the {len(texts)} shipped examples, {repeats} shuffles pooled:")
    print("| C | n-gram weight | threshold | precision | recall | F1 |\n| --- | --- | --- | --- | --- | --- |")
    best: tuple[float, str] = (0.0, "")
    for c in (10.0, 30.0, 100.0):
        for weight in (0.0, 0.5, 1.0):
            scores = np.zeros((repeats, len(texts)))
            for repeat in range(repeats):
                fold = np.random.default_rng(repeat).integers(0, folds, len(texts))
                for k in range(folds):
                    train = fold != k
                    model = Classifier(
                        vectors[train], [t for t, keep in zip(texts, train, strict=True) if keep], labels[train],
                        c=c, ngram_weight=weight,
                    )  # fmt: skip
                    held = [t for t, keep in zip(texts, ~train, strict=True) if keep]
                    scores[repeat, ~train] = model.probabilities(vectors[~train], held)
            for threshold in (0.5, 0.6, 0.65, 0.7, 0.75, 0.8):
                f = figures((scores >= threshold).ravel(), np.tile(labels, repeats))
                marked = " ←" if (c, weight, threshold) == (REGULARISATION_C, NGRAM_WEIGHT, THRESHOLD) else ""
                scores_row = f"{f['precision']:.1%} | {f['recall']:.1%} | {f['f1']:.3f}"
                print(f"| {c:g} | {weight:g} | {threshold:g} | {scores_row} |{marked}")
                if f["precision"] >= 0.95 and f["f1"] > best[0]:
                    best = (f["f1"], f"C {c:g}, n-gram weight {weight:g}, threshold {threshold:g}")
    print(f"best F1 at cross-validated precision >= 95 %: {best[1]} (F1 {best[0]:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    args = parser.parse_args()
    groups = {g: sum(m.group == g for m in MESSAGES) for g in ("asks", "staff", "shop")}
    print(f"labelled set: {len(MESSAGES)} messages {groups}; shipped examples: {len(EXAMPLES)}")
    collisions = {normalised(t) for t, _ in EXAMPLES} & {normalised(m.text) for m in MESSAGES}
    print(f"labelled messages equal to an example once normalised (short forms): {sorted(collisions)}")

    embedder = Embedder(spec=settings.KNOWLEDGE_MODEL)
    started = time.perf_counter()
    embedder.encode(["预热"])
    print(f"model load: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    model = ExampleModel(examples=EXAMPLES, embedder=embedder)
    print(f"encode the examples and fit: {(time.perf_counter() - started) * 1000:.0f} ms")
    refits = []
    for _ in range(3):
        started = time.perf_counter()
        ExampleModel(examples=EXAMPLES, embedder=embedder)
        refits.append((time.perf_counter() - started) * 1000)
    print(f"refit (vectors cached, as after an admin edit), best of 3: {min(refits):.1f} ms")

    old, old_ms = timed(old_rule)
    phrases = phrase_forms(tuple(settings.DESK_HUMAN_REQUEST_PHRASES))
    limit = settings.DESK_HUMAN_REQUEST_PLAIN_MAX_CHARS
    new, new_ms = timed(lambda t: model.decide(t, phrases=phrases, threshold=args.threshold, plain_max_chars=limit))
    asks = [r.asks for r in new]
    routes = [r.route for r in new]

    print(f"\nAt threshold {args.threshold:g}:\n{HEADER}")
    print(row("old phrase list (substring)", figures(old)))
    print(row("detector", figures(asks)))
    semantic = np.array([r == "semantic" for r in routes])
    for route in ("phrase", "semantic", ""):
        chosen = np.array([r == route for r in routes])
        hit = int(sum(a == m.asks for a, m, c in zip(asks, MESSAGES, chosen, strict=True) if c))
        print(f"route {route or '(none)'!r}: {int(chosen.sum())} messages, {hit} right")
    for group in groups:
        right = sum(a == m.asks for a, m in zip(asks, MESSAGES, strict=True) if m.group == group)
        print(f"group {group}: {right}/{groups[group]} right")

    print("\nTime per message (ms): mean / P50 / P95 / max")
    scored = [ms for ms, s in zip(new_ms, semantic, strict=True) if s]
    for name, ms in (
        ("old phrase list", old_ms),
        ("detector, all", new_ms),
        (f"detector, encoded ({len(scored)})", scored),
    ):
        print(f"  {name}: {spread(ms)}")

    long_ones = [m for m in MESSAGES if len(m.text) > limit]
    skipped = [m for m, r in zip(MESSAGES, routes, strict=True) if len(m.text) > limit and r == ""]
    print(f"\nLonger than {limit} characters: {len(long_ones)}; skipped without a cue: {len(skipped)} "
          f"(requests among them: {sum(m.asks for m in skipped)})")  # fmt: skip
    if long_ones:
        text = long_ones[0].text + "。"  # not cached yet
        started = time.perf_counter()
        model.score(text)
        print(f"  encoding a {len(text)}-character message: {(time.perf_counter() - started) * 1000:.1f} ms")

    print("\nMisclassified:")
    for message, result in zip(MESSAGES, new, strict=True):
        if result.asks != message.asks:
            kind = "false alarm" if result.asks else "missed"
            print(f"  {kind:11} {message.group:5} {result.route or '-':8} {result.score} {message.text}")

    scores = np.array([r.score if r.score is not None else 0.0 for r in new])
    fixed = np.array([r.asks for r in new])
    print(f"\nThreshold sweep (short forms and skips as above):\n{HEADER}")
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9):
        predicted = np.where(semantic, scores >= threshold, fixed)
        print(row(f"classifier >= {threshold:g}", figures(predicted)))

    vectors = embedder.encode([m.text.strip() for m in MESSAGES])  # cached by now
    examples = embedder.examples([t for t, _ in EXAMPLES])
    positive = np.array([a for _, a in EXAMPLES])
    similarity = vectors @ examples.T
    best_pos, best_neg = similarity[:, positive].max(1), similarity[:, ~positive].max(1)
    short = np.array([r == "phrase" for r in routes])
    print(f"\nNearest example instead of the classifier (short forms as above):\n{HEADER}")
    for threshold in (0.8, 0.85, 0.9):
        for margin in (0.0, 0.02, 0.04):
            predicted = np.where(short, fixed, (best_pos >= threshold) & (best_pos - best_neg >= margin))
            print(row(f"best positive >= {threshold:g}, margin {margin:g}", figures(predicted)))

    cross_validate(examples)  # last: it only needs the example vectors


if __name__ == "__main__":
    main()
