"""The content-safety step of the message spine (settings.DESK_MODERATOR).

Each worker process keeps one snapshot of the rules (matcher + semantic rules). At most every
DESK_MODERATION_RELOAD_SECONDS it compares the snapshot's version with the one in Redis and,
when an admin changed something, rebuilds from Postgres; the old snapshot serves meanwhile.
"""

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from django.conf import settings

from apps.conversations.pipeline import Action, Verdict
from apps.core import metrics
from apps.moderation import selectors, services
from apps.moderation.matcher import Explanation, Hit, Matcher, mask
from apps.moderation.semantic import Embedder, SemanticHit, SemanticRules

logger = logging.getLogger(__name__)

# Term action -> verdict action. "flag" lets the text through and queues it for review.
_VERDICT_OF: dict[str, Action] = {"block": "block", "hand_over": "review", "mask": "mask", "flag": "allow"}
_RANK: dict[Action, int] = {"allow": 0, "mask": 1, "review": 2, "block": 3}


@dataclass(frozen=True)
class RuleTest:
    """Why a text would or would not be flagged, for the admin's rule tester."""

    explanation: Explanation
    semantic: list[SemanticHit]  # every enabled rule with its best score, tripped or not
    semantic_enabled: bool
    verdict: Verdict  # the same for both directions; what the spine does with it differs


@dataclass(frozen=True)
class Snapshot:
    version: str
    matcher: Matcher
    semantic: SemanticRules


class ContentModerator:
    def __init__(self, *, record_flags: bool = True) -> None:
        self.record_flags = record_flags
        self._embedder = Embedder()
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def snapshot(self, *, fresh: bool = False) -> Snapshot:
        """The rules; ``fresh`` compares the version now instead of at most every few seconds."""
        current = self._snapshot
        now = time.monotonic()
        if not fresh and current is not None and now - self._checked_at < settings.DESK_MODERATION_RELOAD_SECONDS:
            return current
        with self._lock:
            try:
                version = selectors.rules_version()
            except Exception:
                if self._snapshot is None:
                    raise
                logger.warning("moderation: rules version unreadable; keeping the current rules", exc_info=True)
                self._checked_at = now
                return self._snapshot
            if self._snapshot is None or self._snapshot.version != version:
                self._snapshot = self._build(version)
            self._checked_at = now
            return self._snapshot

    def _build(self, version: str) -> Snapshot:
        started = time.monotonic()
        matcher = Matcher(
            selectors.term_records(),
            allowlist=selectors.allowlist_records(),
            regex_timeout=settings.DESK_MODERATION_REGEX_TIMEOUT_MS / 1000,
        )
        rules = selectors.rule_records() if settings.DESK_MODERATION_SEMANTIC_ENABLED else []
        logger.info(
            "moderation: built %d terms, %d allowlist entries, %d semantic rules in %.0f ms",
            matcher.size,
            len(matcher.allowlist),
            len(rules),
            (time.monotonic() - started) * 1000,
        )
        return Snapshot(version=version, matcher=matcher, semantic=SemanticRules(rules, self._embedder))

    def check(self, *, text: str, direction: Literal["in", "out"], message_id: int | None = None) -> Verdict:
        return self.check_many([text], direction=direction, message_ids=[message_id])[0]

    def check_many(
        self, texts: Sequence[str], *, direction: Literal["in", "out"], message_ids: Sequence[int | None] | None = None
    ) -> list[Verdict]:
        """Verdicts for a batch; the semantic model encodes the batch in one call."""
        started = time.monotonic()
        snapshot = self.snapshot()
        ids = list(message_ids) if message_ids is not None else [None] * len(texts)
        keyword_hits = [snapshot.matcher.match(text) for text in texts]
        # A text the blacklist already blocks needs no model time.
        pending = [i for i, hits in enumerate(keyword_hits) if _action(hits, []) != "block"]
        semantic_hits: list[list[SemanticHit]] = [[] for _ in texts]
        if snapshot.semantic and pending:
            for i, found in zip(pending, snapshot.semantic.score([texts[i] for i in pending]), strict=True):
                semantic_hits[i] = found
        verdicts = []
        for text, message_id, hits, semantic in zip(texts, ids, keyword_hits, semantic_hits, strict=True):
            verdict = _verdict(text, hits, semantic)
            metrics.moderation_hits(direction=direction, verdict=verdict.action, evidence=verdict.evidence)
            if (hits or semantic) and self.record_flags:
                services.flag_record(
                    message_id=message_id,
                    direction=direction,
                    verdict=verdict.action,
                    text=text,
                    evidence=verdict.evidence,
                )
            verdicts.append(verdict)
        metrics.stage_observe(f"moderation_{direction}", time.monotonic() - started)
        return verdicts

    def explain(self, *, text: str) -> RuleTest:
        """Every route's findings for ``text``, with the latest rules; records no flag, counts no metric."""
        snapshot = self.snapshot(fresh=True)
        explanation = snapshot.matcher.explain(text)
        semantic = snapshot.semantic.best([text])[0] if snapshot.semantic else []
        tripped = [s for s in semantic if s.score >= s.threshold]
        return RuleTest(
            explanation=explanation,
            semantic=sorted(semantic, key=lambda s: -s.score),
            semantic_enabled=settings.DESK_MODERATION_SEMANTIC_ENABLED,
            verdict=_verdict(text, explanation.hits, tripped),
        )


def _action(hits: list[Hit], semantic: list[SemanticHit]) -> Action:
    actions: list[Action] = [_VERDICT_OF.get(hit.action, "review") for hit in hits]
    # A similarity has no span to mask: a semantic "mask" rule asks a human instead.
    actions += ["review" if s.action == "mask" else _VERDICT_OF.get(s.action, "review") for s in semantic]
    return max(actions, key=_RANK.__getitem__, default="allow")


def _verdict(text: str, hits: list[Hit], semantic: list[SemanticHit]) -> Verdict:
    action = _action(hits, semantic)
    evidence: dict[str, object] = {}
    if hits:
        evidence["hits"] = [hit.as_evidence() for hit in hits]
    if semantic:
        evidence["semantic"] = [s.as_evidence() for s in semantic]
    if action == "mask":
        return Verdict(action="mask", text=mask(text, [h for h in hits if h.action == "mask"]), evidence=evidence)
    return Verdict(action=action, text=text, evidence=evidence)
