"""The in-process knowledge index: every enabled entry's phrasings as unit vectors, plus BM25 over its words.

A search ranks entries by the sentence model's cosine (best phrasing) plus a weighted lexical score
(lexical.py), so an entry stored with one phrasing is still found for a reworded question that
shares its rare words. The direct answer stays a cosine rule: the lexical score only reorders.

Each worker process keeps one index. At most every KNOWLEDGE_RELOAD_SECONDS it compares the
index's version with the one in Redis and, when an admin changed something, rebuilds from
Postgres (stored vectors; any entry the embed task has not reached yet is encoded here).
"""

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from django.conf import settings

from apps.knowledge.lexical import BM25, Scores, tokens
from apps.moderation.semantic import Embedder, Vectors

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EntryRecord:
    id: int
    question: str
    answer: str
    phrases: tuple[str, ...]
    direct: bool
    vectors: Vectors | None  # stored and fresh, or None to encode at build


@dataclass(frozen=True)
class Match:
    entry_id: int
    question: str
    answer: str
    score: float  # cosine of the closest phrasing: the thresholds (direct, snippets, fallback) compare it
    phrase: str
    direct_allowed: bool
    lexical: float = 0.0  # BM25 over the entry's phrasings and answer, in [0, 1] (lexical.BM25.normalised)
    fused: float = 0.0  # what ranks: score + KNOWLEDGE_LEXICAL_WEIGHT * lexical


@dataclass(frozen=True)
class Search:
    version: str
    matches: list[Match]  # best first (fused), one per entry
    direct: Match | None
    margin: float | None = None  # the top entry's cosine lead over the next-closest entry's
    # The entry sure enough to send in place of a model's withheld draft (apps/llm/guard.py): the
    # direct answer, or a top entry that both the meaning and the words agree on.
    fallback: Match | None = None

    def direct_meta(self) -> dict[str, Any]:
        assert self.direct is not None
        return {
            "source": "knowledge",
            "entry_id": self.direct.entry_id,
            "score": round(self.direct.score, 4),
            "lexical": round(self.direct.lexical, 4),
            "margin": None if self.margin is None else round(self.margin, 4),
            "matched": self.direct.phrase,
            "knowledge_version": self.version,
        }


class Index:
    def __init__(self, *, version: str, records: Sequence[EntryRecord], embedder: Embedder) -> None:
        self.version = version
        self.records = [r for r in records if r.phrases]
        self.embedder = embedder
        blocks: list[Vectors] = []
        stale = [r for r in self.records if r.vectors is None or len(r.vectors) != len(r.phrases)]
        # The stored side is encoded as the embed task stores it (fp32 on onnx: see semantic.precisions).
        encoded = iter(embedder.encode_reference([p for r in stale for p in r.phrases])) if stale else iter(())
        owner: list[int] = []
        for index, record in enumerate(self.records):
            if record.vectors is not None and len(record.vectors) == len(record.phrases):
                blocks.append(record.vectors)
            else:
                blocks.append(np.stack([next(encoded) for _ in record.phrases]))
            owner += [index] * len(record.phrases)
        self.stale = len(stale)
        self.matrix: Vectors = np.concatenate(blocks) if blocks else np.zeros((0, 0), dtype=np.float32)
        self.owner = np.asarray(owner, dtype=np.int64)
        # The answer's words too: a customer often asks with the words the answer uses ("能用微信支付吗"
        # against "支持哪些付款方式？" whose answer names 微信支付). Measured: over the phrasings alone the
        # lexical score did not help (shared question words like 怎么/多久 pulled the wrong entries up).
        self.lexical = BM25([[t for text in (*r.phrases, r.answer) for t in tokens(text)] for r in self.records])

    def __len__(self) -> int:
        return len(self.records)

    def search(
        self,
        question: str,
        *,
        k: int,
        threshold: float,
        margin: float,
        lexical_weight: float = 0.0,
        agree_threshold: float = 0.0,
        agree_lexical: float = 1.0,
        fallback_threshold: float = 0.0,
        fallback_lexical: float = 1.0,
    ) -> Search:
        """The top k entries by cosine + lexical_weight x lexical, and the direct answer if any.

        Direct: the top entry's cosine >= threshold (or >= agree_threshold when it is also the clear
        lexical best at >= agree_lexical; 0 turns that off) AND ahead of every other entry's cosine by
        margin. A lead >= 0 means the fused top is also the cosine top, so fusion can only take direct
        answers away, never add a wrong one the cosine rule would not have given.
        """
        if not self.records or not question.strip():
            return Search(version=self.version, matches=[], direct=None)
        wants_lexical = lexical_weight or agree_threshold or fallback_threshold
        lexical = self.lexical.normalised(tokens(question)) if wants_lexical else None
        rules = _Rules(
            k=k,
            threshold=threshold,
            margin=margin,
            lexical_weight=lexical_weight,
            agree_threshold=agree_threshold,
            agree_lexical=agree_lexical,
            fallback_threshold=fallback_threshold,
            fallback_lexical=fallback_lexical,
        )
        found, near = self._decide(self.embedder.encode([question])[0], lexical, rules)
        if near:
            found, _ = self._decide(self.embedder.recheck([question], stage="knowledge")[0], lexical, rules)
        return found

    def _decide(self, vector: Vectors, lexical: Scores | None, rules: "_Rules") -> tuple[Search, bool]:
        """The search for one query vector, and whether a decision in it lies within the embedder's
        recheck margin of going the other way (then the caller decides again on the reference vector)."""
        scores = vector @ self.matrix.T  # unit vectors: dot = cosine
        cosine = np.full(len(self.records), -1.0, dtype=np.float32)
        np.maximum.at(cosine, self.owner, scores)
        weight = rules.lexical_weight
        fused = cosine if lexical is None or not weight else cosine + np.float32(weight) * lexical
        order = np.argsort(-fused, kind="stable")[: max(rules.k, 2)]
        matches = []
        for entry_index in order.tolist():
            record = self.records[entry_index]
            rows = np.flatnonzero(self.owner == entry_index)
            matches.append(
                Match(
                    entry_id=record.id,
                    question=record.question,
                    answer=record.answer,
                    score=float(cosine[entry_index]),
                    phrase=record.phrases[int(np.argmax(scores[rows]))],
                    direct_allowed=record.direct,
                    lexical=0.0 if lexical is None else float(lexical[entry_index]),
                    fused=float(fused[entry_index]),
                )
            )
        top, first = matches[0], int(order[0])
        lead = None
        if len(self.records) > 1:
            others = np.delete(cosine, first)
            lead = top.score - float(others.max())
        # Strict on purpose: a near-miss answered with the wrong entry is worse than an LLM call.
        lexical_best = lexical is not None and int(np.argmax(lexical)) == first

        def agrees(at: float, words: float) -> bool:
            return at > 0 and lexical_best and top.score >= at and top.lexical >= words

        ahead = top.direct_allowed and (lead is None or lead >= rules.margin)
        close = top.score >= rules.threshold or agrees(rules.agree_threshold, rules.agree_lexical)
        direct = top if ahead and close else None
        # Sure enough to stand in for a withheld draft: the near-misses that reach a high cosine
        # ("积分怎么获得" -> "积分有什么用？" at 0.936) share few of the entry's words.
        fallback = top if ahead and (close or agrees(rules.fallback_threshold, rules.fallback_lexical)) else None
        found = Search(version=self.version, matches=matches[: rules.k], direct=direct, margin=lead, fallback=fallback)
        return found, self._near(top.score, lead, matches, rules)

    def _near(self, best: float, lead: float | None, matches: list[Match], rules: "_Rules") -> bool:
        recheck = self.embedder.recheck_margin
        if recheck <= 0:
            return False
        floors = [t for t in (rules.threshold, rules.agree_threshold, rules.fallback_threshold) if t > 0]
        if any(abs(best - t) < recheck for t in floors):
            return True
        if best < min(floors, default=0.0) - recheck:
            return False  # no direct answer or fallback either way: the lead and the order do not matter
        # A lead or a fused gap is a difference of two scores, each moved by up to the query's error: the
        # margin, twice the largest error measured, covers it (a fused near-tie can hand the top place,
        # and with it the direct answer, to another entry).
        gap = matches[0].fused - matches[1].fused if len(matches) > 1 else None
        return (lead is not None and abs(lead - rules.margin) < recheck) or (gap is not None and gap < recheck)


@dataclass(frozen=True)
class _Rules:
    """Index.search's settings, passed on to the decision of each query vector."""

    k: int
    threshold: float
    margin: float
    lexical_weight: float
    agree_threshold: float
    agree_lexical: float
    fallback_threshold: float
    fallback_lexical: float


def configured_search(index: Index, question: str) -> Search:
    """``index.search`` with the KNOWLEDGE_* settings, as production searches."""
    return index.search(
        question,
        k=settings.KNOWLEDGE_TOP_K,
        threshold=settings.KNOWLEDGE_DIRECT_THRESHOLD,
        margin=settings.KNOWLEDGE_DIRECT_MARGIN,
        lexical_weight=settings.KNOWLEDGE_LEXICAL_WEIGHT,
        agree_threshold=settings.KNOWLEDGE_DIRECT_AGREE_THRESHOLD,
        agree_lexical=settings.KNOWLEDGE_DIRECT_AGREE_LEXICAL,
        fallback_threshold=settings.KNOWLEDGE_FALLBACK_MIN_SCORE,
        fallback_lexical=settings.KNOWLEDGE_FALLBACK_MIN_LEXICAL,
    )


class KnowledgeBase:
    """The process's index, rebuilt lazily when the version in Redis moves."""

    def __init__(self) -> None:
        self.embedder = Embedder(spec=settings.KNOWLEDGE_MODEL)
        self._index: Index | None = None
        self._version: str | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def version(self) -> str:
        from apps.knowledge import selectors

        now = time.monotonic()
        if self._version is not None and now - self._checked_at < settings.KNOWLEDGE_RELOAD_SECONDS:
            return self._version
        try:
            self._version = selectors.knowledge_version()
        except Exception:
            if self._version is None:
                raise
            logger.warning("knowledge: version unreadable; keeping the current index", exc_info=True)
        self._checked_at = now
        return self._version

    def index(self) -> Index:
        from apps.knowledge import selectors

        version = self.version()
        current = self._index
        if current is not None and current.version == version:
            return current
        with self._lock:
            if self._index is None or self._index.version != version:
                started = time.monotonic()
                self._index = Index(version=version, records=selectors.entry_records(), embedder=self.embedder)
                logger.info(
                    "knowledge: indexed %d entries (%d encoded here) in %.0f ms",
                    len(self._index),
                    self._index.stale,
                    (time.monotonic() - started) * 1000,
                )
            return self._index

    def search(self, question: str) -> Search:
        return configured_search(self.index(), question)

    def forget(self) -> None:
        with self._lock:
            self._index = None
            self._version = None


@cache
def knowledge_base() -> KnowledgeBase:
    return KnowledgeBase()
