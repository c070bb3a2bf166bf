"""The shared encoder: concurrent callers get their own vectors, batched together, and failures reach all."""

import threading
import time

import numpy as np
import pytest

from apps.moderation.encoder import SharedEncoder


class SlowModel:
    """Stands for the sentence model: 20 ms a call, so concurrent callers pile up behind it."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail
        self.running = 0
        self.max_running = 0
        self.lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self.lock:
            self.calls.append(list(texts))
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        if self.fail:
            raise RuntimeError("model broke")
        return np.array([[float(len(t)), float(sum(map(ord, t)) % 997)] for t in texts], dtype=np.float32)


def expected(text: str) -> list[float]:
    return [float(len(text)), float(sum(map(ord, text)) % 997)]


def run_threads(encoder: SharedEncoder, groups: list[list[str]]) -> list[object]:
    results: list[object] = [None] * len(groups)
    start = threading.Barrier(len(groups))

    def call(index: int) -> None:
        start.wait()
        try:
            results[index] = encoder.encode(groups[index])
        except Exception as exc:  # the test inspects what each caller got
            results[index] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(groups))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_concurrent_callers_get_their_own_vectors_in_few_batches() -> None:
    model = SlowModel()
    encoder = SharedEncoder(model, max_batch=64)
    groups = [[f"问题{i}", f"回答{i}"] for i in range(40)]
    results = run_threads(encoder, groups)
    for group, vectors in zip(groups, results, strict=True):
        assert isinstance(vectors, np.ndarray)
        assert vectors.tolist() == [expected(t) for t in group]
    assert sum(len(call) for call in model.calls) == 80  # every text encoded once
    assert len(model.calls) < 10  # 40 callers coalesced, not 40 model calls
    assert model.max_running == 1  # the model is never run by two threads at once


def test_batches_respect_the_size_limit() -> None:
    model = SlowModel()
    encoder = SharedEncoder(model, max_batch=8)
    run_threads(encoder, [[f"句子{i}"] for i in range(30)])
    assert all(len(call) <= 8 for call in model.calls)
    assert sum(len(call) for call in model.calls) == 30


def test_recent_texts_are_not_encoded_again() -> None:
    model = SlowModel()
    encoder = SharedEncoder(model, cache_size=2)
    encoder.encode(["甲", "乙"])
    again = encoder.encode(["乙", "甲", "乙"])
    assert again.tolist() == [expected("乙"), expected("甲"), expected("乙")]
    assert model.calls == [["甲", "乙"]]
    encoder.encode(["丙"])  # evicts "乙", the least recently used ("甲" came after it above)
    encoder.encode(["甲", "乙", "丙"])
    assert model.calls[-1] == ["乙"]


def test_a_model_failure_reaches_every_waiting_caller_and_the_encoder_recovers() -> None:
    model = SlowModel(fail=True)
    encoder = SharedEncoder(model)
    results = run_threads(encoder, [[f"t{i}"] for i in range(10)])
    assert all(isinstance(result, RuntimeError) for result in results)
    model.fail = False
    assert encoder.encode(["好了"]).tolist() == [expected("好了")]


def test_an_idle_encoder_runs_the_caller_at_once() -> None:
    model = SlowModel()
    encoder = SharedEncoder(model)
    started = time.monotonic()
    encoder.encode(["单独"])
    assert time.monotonic() - started < 0.5
    assert model.calls == [["单独"]]


@pytest.mark.parametrize("texts", [["重复", "重复"], ["a", "b", "a"]])
def test_duplicates_in_one_call_are_encoded_once(texts: list[str]) -> None:
    model = SlowModel()
    encoder = SharedEncoder(model)
    assert encoder.encode(texts).tolist() == [expected(t) for t in texts]
    assert sorted(model.calls[0]) == sorted(set(texts))


def test_after_batch_runs_once_per_batch_once_its_callers_have_their_vectors() -> None:
    model = SlowModel()
    seen: list[int] = []  # batches finished when each after_batch ran
    encoder = SharedEncoder(model, max_batch=4, after_batch=lambda: seen.append(len(model.calls)))
    results = run_threads(encoder, [[f"句子{i}"] for i in range(12)])

    assert all(isinstance(r, np.ndarray) for r in results)
    assert len(seen) == len(model.calls) >= 3
    assert seen == sorted(seen)


def test_the_desk_encoder_trims_malloc_after_its_batches(monkeypatch: pytest.MonkeyPatch, settings: object) -> None:
    from apps.core import memory
    from apps.moderation import semantic

    trims: list[int] = []

    def trim_due() -> bool:
        trims.append(1)
        return True

    monkeypatch.setattr(memory, "trim_due", trim_due)
    for trim in (True, False):
        settings.DESK_MALLOC_TRIM = trim  # type: ignore[attr-defined]
        semantic._shared_encoder.cache_clear()
        before = len(trims)
        semantic.Embedder().encode([f"发票怎么开 {trim}"])
        assert len(trims) - before == (1 if trim else 0)
    semantic._shared_encoder.cache_clear()
