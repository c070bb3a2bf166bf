"""One sentence encoder per model per process, shared by every thread that needs vectors.

Under load a worker runs hundreds of threads, and each message is encoded two or three times
(moderation of the question, the knowledge search, moderation of the answer). Each thread
calling the model on its own makes them fight over two cores, one text at a time. Here:

- Concurrent calls are coalesced: the first caller runs the model; whoever arrives meanwhile
  queues, and the next run takes the whole queue as one batch (per text, a batch of 32 costs a
  quarter of single calls). An idle process adds no wait at all.
- Recent texts are remembered, so the question the moderator just encoded is not encoded again
  by the knowledge search a few milliseconds later.
- After each batch, ``after_batch`` runs in the caller that led it: the desk gives the batch's freed
  tensors back to the system there (apps/core/memory.py ``trim``), or malloc keeps the high-water mark
  of every batch size it has seen.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@dataclass
class _Request:
    texts: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    vectors: Vectors | None = None
    error: BaseException | None = None
    lead: bool = False  # woken to run the next batch, not with a result


class SharedEncoder:
    def __init__(
        self,
        encode: Callable[[list[str]], Vectors],
        *,
        max_batch: int = 64,
        cache_size: int = 4096,
        after_batch: Callable[[], object] | None = None,
    ) -> None:
        self._encode = encode
        self._after_batch = after_batch
        self._max_batch = max_batch
        self._cache_size = cache_size
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._pending: list[_Request] = []
        self._busy = False
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            known = {t: self._cache[t] for t in texts if t in self._cache}
            for text in known:
                self._cache.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, self._run(missing), strict=True))
        return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)

    def _run(self, texts: list[str]) -> Vectors:
        request = _Request(texts)
        with self._lock:
            self._pending.append(request)
            request.lead = not self._busy
            self._busy = True
        while not request.lead:
            request.done.wait()
            if request.vectors is not None or request.error is not None:
                break
        if request.lead and request.vectors is None:
            self._lead()
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    def _lead(self) -> None:
        """Run one batch of everything queued (this caller's request included), then pass the lead on."""
        with self._lock:
            batch: list[_Request] = []
            size = 0
            while self._pending and (not batch or size + len(self._pending[0].texts) <= self._max_batch):
                batch.append(self._pending.pop(0))
                size += len(batch[-1].texts)
        try:
            vectors = self._encode([text for request in batch for text in request.texts])
        except BaseException as exc:  # every waiter must learn of the failure, whatever it is
            for request in batch:
                request.error = exc
        else:
            offset = 0
            with self._lock:
                for request in batch:
                    request.vectors = vectors[offset : offset + len(request.texts)]
                    offset += len(request.texts)
                    for text, vector in zip(request.texts, request.vectors, strict=True):
                        self._cache[text] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            if self._pending:
                # The next waiter runs the next batch, so no caller serves others indefinitely.
                successor = self._pending[0]
                successor.lead = True
                successor.done.set()
            else:
                self._busy = False
        for request in batch:
            request.done.set()
        if self._after_batch is not None:  # the waiters have their vectors already: only this caller waits
            self._after_batch()
