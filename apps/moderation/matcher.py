"""Blacklist matching: Aho-Corasick over normalised text, regex terms beside it.

The matcher is immutable and built from plain term records, so a worker can build a new
one while the old one keeps serving, then swap (see apps.moderation.moderator).
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick_rs
import regex

from apps.moderation.normalise import Normalised, normalise, pinyin, pinyin_fast, term_pinyin
from apps.moderation.regex_guard import compile_term

logger = logging.getLogger(__name__)

_MIN_PINYIN_KEY = 4  # shorter romanisations ("ma", "shi") occur inside everything


@dataclass(frozen=True)
class TermRecord:
    id: int
    text: str
    kind: str  # "keyword" | "regex"
    category: str
    severity: int
    action: str
    match_pinyin: bool = False


@dataclass(frozen=True)
class Hit:
    term_id: int
    term: str
    category: str
    severity: int
    action: str
    start: int  # span in the original text
    end: int
    matched: str
    via: str  # "keyword" | "regex" | "pinyin"

    def as_evidence(self) -> dict[str, object]:
        return {
            "term_id": self.term_id,
            "term": self.term,
            "category": self.category,
            "severity": self.severity,
            "action": self.action,
            "span": [self.start, self.end],
            "matched": self.matched,
            "via": self.via,
        }


def _is_word(char: str) -> bool:
    return char.isascii() and char.isalnum()


class _KeywordIndex:
    def __init__(self, keyed: dict[str, list[TermRecord]], *, whole_words: bool) -> None:
        self.keys = list(keyed)
        self.records = [keyed[key] for key in self.keys]
        # Latin keys must not match inside a longer word ("ass" in "class").
        self.word_edges = [(whole_words and _is_word(k[0]), whole_words and _is_word(k[-1])) for k in self.keys]
        self.automaton = (
            ahocorasick_rs.AhoCorasick(self.keys, matchkind=ahocorasick_rs.MatchKind.Standard) if self.keys else None
        )

    def find(self, text: str) -> list[tuple[int, int, int]]:
        if self.automaton is None:
            return []
        return self.automaton.find_matches_as_indexes(text, overlapping=True)

    def hits(self, norm: Normalised, original: str, via: str) -> list[Hit]:
        out = []
        for key_index, start, end in self.find(norm.text):
            word_start, word_end = self.word_edges[key_index]
            if word_start and start > 0 and _is_word(norm.text[start - 1]):
                continue
            if word_end and end < len(norm.text) and _is_word(norm.text[end]):
                continue
            span_start, span_end = norm.span(start, end, original)
            for record in self.records[key_index]:
                out.append(_hit(record, span_start, span_end, original, via))
        return out


def _hit(record: TermRecord, start: int, end: int, original: str, via: str) -> Hit:
    return Hit(
        term_id=record.id,
        term=record.text,
        category=record.category,
        severity=record.severity,
        action=record.action,
        start=start,
        end=end,
        matched=original[start:end],
        via=via,
    )


class Matcher:
    def __init__(self, terms: Iterable[TermRecord], *, regex_timeout: float = 0.02) -> None:
        keywords: dict[str, list[TermRecord]] = defaultdict(list)
        pinyin_keys: dict[str, list[TermRecord]] = defaultdict(list)
        self.regexes: list[tuple[regex.Pattern[str], TermRecord]] = []
        self.regex_timeout = regex_timeout
        for term in terms:
            if term.kind == "regex":
                try:
                    self.regexes.append((compile_term(term.text), term))
                except regex.error:
                    logger.warning("regex term %s does not compile; skipped", term.id)
                continue
            key = normalise(term.text, with_offsets=False).text
            if not key:
                continue
            keywords[key].append(term)
            if term.match_pinyin:
                romanised = term_pinyin(term.text)
                if len(romanised) >= _MIN_PINYIN_KEY:
                    pinyin_keys[romanised].append(term)
        self.keywords = _KeywordIndex(keywords, whole_words=True)
        self.pinyin = _KeywordIndex(pinyin_keys, whole_words=False)
        self.size = sum(len(v) for v in keywords.values()) + len(self.regexes)

    def match(self, text: str) -> list[Hit]:
        """Every hit, with its span in ``text``. Offsets are computed only when something matched."""
        folded = normalise(text, with_offsets=False).text
        suspect = bool(self.keywords.find(folded))
        romanised = pinyin_fast(folded) if self.pinyin.automaton is not None else ""
        suspect = suspect or bool(romanised and self.pinyin.find(romanised))
        regex_hits = [(pattern, term) for pattern, term in self.regexes if self._search(pattern, folded)]
        if not suspect and not regex_hits:
            return []

        norm = normalise(text)
        hits = self.keywords.hits(norm, text, "keyword")
        if romanised:
            hits.extend(self.pinyin.hits(pinyin(norm), text, "pinyin"))
        for pattern, term in regex_hits:
            try:
                spans = [m.span() for m in pattern.finditer(norm.text, timeout=self.regex_timeout)]
            except TimeoutError:
                spans = []
            for found_start, found_end in spans:
                if found_end > found_start:
                    start, end = norm.span(found_start, found_end, text)
                    hits.append(_hit(term, start, end, text, "regex"))
        return _dedupe(hits)

    def _search(self, pattern: regex.Pattern[str], text: str) -> bool:
        try:
            return pattern.search(text, timeout=self.regex_timeout) is not None
        except TimeoutError:
            logger.warning("regex term %r timed out on a message; treated as no match", pattern.pattern)
            return False


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """A pinyin hit on the same span as a keyword hit of the same term adds nothing."""
    seen: set[tuple[int, int, int]] = set()
    out = []
    for hit in sorted(hits, key=lambda h: (h.start, h.end, h.via != "keyword")):
        key = (hit.term_id, hit.start, hit.end)
        if key not in seen:
            seen.add(key)
            out.append(hit)
    return out


def mask(text: str, hits: Iterable[Hit], *, char: str = "*") -> str:
    """Replace each hit's span with ``char``; everything else stays exactly as it was."""
    chars = list(text)
    for hit in hits:
        for index in range(hit.start, hit.end):
            if not chars[index].isspace():
                chars[index] = char
    return "".join(chars)
