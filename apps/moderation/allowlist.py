"""Allowlist: phrases that must never be flagged although they contain a term.

An entry cancels a hit when the entry's phrase, found in the normalised text, covers the hit's
whole span, and the entry is global or of the hit's category: "特色情况" allows the 色情 inside
it, not a 色情 elsewhere in the message. Entries are matched only for messages that hit
something, so the allowlist costs the clean majority nothing.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ahocorasick_rs

from apps.moderation.normalise import Normalised, normalise

if TYPE_CHECKING:
    from apps.moderation.matcher import Hit


@dataclass(frozen=True)
class AllowRecord:
    id: int
    phrase: str
    category: str  # "" = every category

    def as_evidence(self) -> dict[str, object]:
        return {"allow_id": self.id, "phrase": self.phrase, "category": self.category}


@dataclass(frozen=True)
class Cancelled:
    hit: "Hit"
    allowed_by: tuple[AllowRecord, ...]


class Allowlist:
    def __init__(self, entries: Iterable[AllowRecord]) -> None:
        keyed: dict[str, list[AllowRecord]] = defaultdict(list)
        for entry in entries:
            key = normalise(entry.phrase, with_offsets=False).text
            if key:
                keyed[key].append(entry)
        self.keys = list(keyed)
        self.records = [keyed[key] for key in self.keys]
        self.automaton = (
            ahocorasick_rs.AhoCorasick(self.keys, matchkind=ahocorasick_rs.MatchKind.Standard) if self.keys else None
        )

    def __len__(self) -> int:
        return sum(len(records) for records in self.records)

    def apply(self, hits: list["Hit"], norm: Normalised, text: str) -> tuple[list["Hit"], list[Cancelled]]:
        """(the hits that stand, the hits cancelled with the entries that cancelled each)."""
        if self.automaton is None or not hits:
            return hits, []
        found = [
            (norm.span(start, end, text), self.records[key_index])
            for key_index, start, end in self.automaton.find_matches_as_indexes(norm.text, overlapping=True)
        ]
        kept, cancelled = [], []
        for hit in hits:
            covering = tuple(
                entry
                for (start, end), entries in found
                if start <= hit.start and hit.end <= end
                for entry in entries
                if entry.category in ("", hit.category)
            )
            if covering:
                cancelled.append(Cancelled(hit=hit, allowed_by=covering))
            else:
                kept.append(hit)
        return kept, cancelled
