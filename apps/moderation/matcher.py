"""Blacklist matching: Aho-Corasick over normalised text and its views, regex terms beside it.

Routes, each reported as a hit's ``via``:

    keyword     the term in the normalised text (normalise.py: case, width, traditional, symbols…)
    confusable  the same, where a look-alike from another script stood in (confusables.py)
    spaced      Latin letters spelled apart, "a s s", "q q 群" (latin.py)
    leet        Latin with @ $ 0 1 3 5 for letters (latin.py)
    pinyin      homophones or romanisation of a term marked for it (pinyin.py)
    initials    "sb", "傻b" for a term marked for initials (pinyin.py)
    inserted    one digit or Latin letter inside a CJK term, "冰1毒" (terms of 3+ characters,
                2-character terms when marked)
    regex       a regular-expression term

Every message takes the cheap check (``_suspect``: one fold, which also gives the syllable view and
says whether the other views could differ, one automaton per route, regex terms only when the
message holds the digit run they need); only a message that matched something takes the
exact pass with offsets (``_collect``), then the allowlist (allowlist.py) cancels hits it covers.
The matcher is immutable, so a worker builds a new one while the old one serves, then swaps.
"""

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import ahocorasick_rs
import regex

from apps.moderation.allowlist import Allowlist, AllowRecord, Cancelled
from apps.moderation.latin import (
    CHAIN_AFTER_FIRST,
    GAP,
    LEET,
    LEET_AFTER_FIRST,
    TOKEN,
    is_latin_key,
    latin_keys,
    latin_view,
    latin_view_fast,
)
from apps.moderation.normalise import Folded, Normalised, fold_fast, normalise, tables
from apps.moderation.pinyin import initials_keys, pinyin_keys, syllable_view, syllable_view_fast
from apps.moderation.regex_guard import compile_term, required_digit_run

logger = logging.getLogger(__name__)

ROUTES = ("keyword", "confusable", "spaced", "leet", "initials", "pinyin", "inserted", "regex")
_PRIORITY = {route: i for i, route in enumerate(ROUTES)}
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f"
_CJK_ONLY = re.compile(f"[{_CJK}]+")
_INLINE_FLAGS = re.compile(r"\(\?[a-zA-Z^-]")
# One digit or Latin letter between two CJK characters, with a separator or none on each side.
_INSERTED = re.compile(rf"(?<=[{_CJK}]){GAP}?[a-z0-9]{GAP}?(?=[{_CJK}])")
_INSERTED_AFTER_FIRST = rf"(?<=[{_CJK}][a-z0-9]){GAP}?(?=[{_CJK}])|(?<=[{_CJK}]{GAP}[a-z0-9]){GAP}?(?=[{_CJK}])"
# Could a view differ from the normalised text? Every message takes this one search: it starts
# with a character class, so the regex engine skips to candidates (letters, digits) in C instead
# of trying the pattern at each of a message's 200 positions.
# Every branch wants the token's first character (no token character before it); asked once up
# front, that check fails fast inside a token ("sf1234567890") instead of once per branch.
_VIEW_HINT = re.compile(
    rf"[{TOKEN}](?<![{TOKEN}][{TOKEN}])(?:{CHAIN_AFTER_FIRST}|{LEET_AFTER_FIRST}|{_INSERTED_AFTER_FIRST})"
)


@dataclass(frozen=True)
class TermRecord:
    id: int
    text: str
    kind: str  # "keyword" | "regex"
    category: str
    severity: int
    action: str
    match_pinyin: bool = False
    match_initials: bool = False
    match_inserted: bool = False  # two-character terms too (three or more always are)


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
    via: str  # one of ROUTES

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


@dataclass(frozen=True)
class Explanation:
    """What the rule tester shows: how the text was read and what each route found."""

    normalised: str
    latin_view: str | None
    hits: list[Hit]
    cancelled: list[Cancelled]


def _is_word(char: str) -> bool:
    return char.isascii() and char.isalnum()


Keyed = dict[str, list[tuple[TermRecord, str]]]


class _Index:
    """One automaton; each key carries the (term, route) pairs it stands for."""

    def __init__(self, keyed: Keyed) -> None:
        self.keys = list(keyed)
        self.records = [keyed[key] for key in self.keys]
        # Latin keys must not match inside a longer word ("ass" in "class").
        self.edges = [(_is_word(k[0]), _is_word(k[-1])) for k in self.keys]
        self.automaton = (
            ahocorasick_rs.AhoCorasick(self.keys, matchkind=ahocorasick_rs.MatchKind.Standard) if self.keys else None
        )

    def find(self, text: str) -> bool:
        return self.automaton is not None and bool(self.automaton.find_matches_as_indexes(text, overlapping=True))

    def matches(
        self, text: str, edges_in: str | None = None, index: list[int] | None = None
    ) -> list[tuple[int, int, int]]:
        """(key index, start, end) in ``text``; word edges are checked in ``edges_in`` (the
        normalised text, through ``index``) when the view glues words together."""
        if self.automaton is None:
            return []
        out = []
        for key_index, start, end in self.automaton.find_matches_as_indexes(text, overlapping=True):
            word_start, word_end = self.edges[key_index]
            if edges_in is None or index is None:
                around, before, after = text, start - 1, end
            else:
                around, before, after = edges_in, index[start] - 1, index[end - 1] + 1
            if word_start and before >= 0 and _is_word(around[before]):
                continue
            if word_end and after < len(around) and _is_word(around[after]):
                continue
            out.append((key_index, start, end))
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


def _insertable(record: TermRecord, key: str) -> bool:
    """Terms of three or more CJK characters; two-character ones only when marked (大1麻 is no 大麻)."""
    return _CJK_ONLY.fullmatch(key) is not None and (len(key) >= 3 or (len(key) == 2 and record.match_inserted))


class Matcher:
    def __init__(
        self, terms: Iterable[TermRecord], *, allowlist: Iterable[AllowRecord] = (), regex_timeout: float = 0.02
    ) -> None:
        keyword: Keyed = defaultdict(list)
        latin: Keyed = defaultdict(list)
        syllable: Keyed = defaultdict(list)
        self.regexes: list[tuple[regex.Pattern[str], TermRecord]] = []
        self.regex_timeout = regex_timeout
        self.insertable = False
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
            keyword[key].append((term, "keyword"))
            base = key.translate(LEET)
            for variant in latin_keys(key) if is_latin_key(key) else ():
                latin[variant].append((term, "spaced" if variant == base else "leet"))
            self.insertable = self.insertable or _insertable(term, key)
            if term.match_pinyin:
                for variant in pinyin_keys(key):
                    syllable[variant].append((term, "pinyin"))
            if term.match_initials:
                mixed, all_initials = initials_keys(key)
                for variant in mixed | ({all_initials} if all_initials else set()):
                    keyword[variant].append((term, "initials"))
                for variant in latin_keys(all_initials) if all_initials else ():
                    latin[variant].append((term, "initials"))
        self.keywords = _Index(keyword)
        self.latin = _Index(latin)
        self.syllables = _Index(syllable)
        self.allowlist = Allowlist(allowlist)
        self.size = sum(1 for records in keyword.values() for _, route in records if route == "keyword")
        self.size += len(self.regexes)
        # For the cheap check: the regex terms without inline flags as one alternation (one search,
        # one timeout set-up, 2-3 µs a call in the regex module), the others each on its own: a
        # flag such as (?x) would change how the rest of an alternation reads.
        # Each comes with the digit run any match needs (regex_guard.required_digit_run): the
        # search is skipped, in a substring test, for messages without one.
        flagged = [pattern for pattern, _ in self.regexes if _INLINE_FLAGS.search(pattern.pattern)]
        plain = [pattern for pattern, _ in self.regexes if not _INLINE_FLAGS.search(pattern.pattern)]
        combined = _any_of(plain)
        self.cheap_regexes = [
            (pattern, min(required_digit_run(p.pattern) for p in members))
            for pattern, members in [
                *([(combined, plain)] if combined is not None else [(p, [p]) for p in plain]),
                *[(p, [p]) for p in flagged],
            ]
        ]

    def match(self, text: str) -> list[Hit]:
        """Every hit the allowlist leaves, with its span in ``text``."""
        folded = self._suspect(text)
        if folded is None:
            return []
        norm = normalise(text, folded=folded)
        return self.allowlist.apply(_dedupe(self._collect(norm, text)), norm, text)[0]

    def explain(self, text: str) -> Explanation:
        """The rule tester's account: the normalised text and Latin view, kept and cancelled hits."""
        norm = normalise(text)
        kept, cancelled = self.allowlist.apply(_dedupe(self._collect(norm, text)), norm, text)
        view = latin_view_fast(norm.text) if _VIEW_HINT.search(norm.text) else None
        return Explanation(normalised=norm.text, latin_view=view, hits=kept, cancelled=cancelled)

    def _suspect(self, text: str) -> Folded | None:
        """Could anything match? Cheap, with no false negatives: offsets come later, if at all.
        The folded text when it could, for the exact pass to build on; None when it cannot."""
        # The compiled fold answers the syllable view and the view hint in the same pass; after
        # fold_numpy or the reference's way they are None and computed here.
        wants_view = self.syllables.automaton is not None
        folded = fold_fast(text, wants_view)
        f = folded.text
        if (
            self.keywords.find(f)
            or (wants_view and self.syllables.find(_or_else(folded.syllables, syllable_view_fast, f)))
            or (
                (self.latin.automaton is not None or self.insertable)
                and (folded.hint if folded.hint is not None else _VIEW_HINT.search(f) is not None)
                and (
                    self.latin.find(latin_view_fast(f))
                    or (self.insertable and self.keywords.find(_INSERTED.sub("", f)))
                )
            )
            or any(folded.has_digit_run(run) and self._search(pattern, f) for pattern, run in self.cheap_regexes)
        ):
            return folded
        return None

    def _collect(self, norm: Normalised, text: str) -> list[Hit]:
        f = norm.text
        confusable = tables().confusable
        hits = []
        for key_index, start, end in self.keywords.matches(f):
            span = norm.span(start, end, text)
            looks_alike = any(ord(c) in confusable for c in text[span[0] : span[1]])
            for record, route in self.keywords.records[key_index]:
                via = "confusable" if route == "keyword" and looks_alike else route
                hits.append(_hit(record, *span, text, via))
        if self.syllables.automaton is not None:
            view, kept = syllable_view(f)
            found = self.syllables.find(view)
            index = kept.tolist() if found else []
            for key_index, start, end in self.syllables.matches(view, f, index) if found else ():
                span = norm.span(index[start], index[end - 1] + 1, text)
                hits.extend(_hit(record, *span, text, route) for record, route in self.syllables.records[key_index])
        if _VIEW_HINT.search(f):
            if self.latin.automaton is not None:
                hits.extend(self._latin_hits(norm, text))
            if self.insertable:
                hits.extend(self._inserted_hits(norm, text))
        for pattern, term in self.regexes:
            try:
                spans = [m.span() for m in pattern.finditer(f, timeout=self.regex_timeout)]
            except TimeoutError:
                spans = []
            hits.extend(_hit(term, *norm.span(s, e, text), text, "regex") for s, e in spans if e > s)
        return hits

    def _latin_hits(self, norm: Normalised, text: str) -> list[Hit]:
        view, index, changed = latin_view(norm.text)
        hits = []
        for key_index, start, end in self.latin.matches(view):
            first, last = index[start], index[end - 1] + 1
            spaced = last - first != end - start
            leet = any(p in changed for p in range(start, end))
            key = self.latin.keys[key_index]
            for record, route in self.latin.records[key_index]:
                if route == "spaced" and not spaced and not leet:
                    continue  # the text spells the key as it is: the keyword route has it
                if leet and sum(c.isalpha() for c in key) < 3:
                    continue  # "5g" is no leet for "sg"
                via = route if route == "initials" else ("leet" if leet or route == "leet" else "spaced")
                hits.append(_hit(record, *norm.span(first, last, text), text, via))
        return hits

    def _inserted_hits(self, norm: Normalised, text: str) -> list[Hit]:
        f = norm.text
        removed = [m.span() for m in _INSERTED.finditer(f)]
        gone = {i for start, end in removed for i in range(start, end)}
        index = [i for i in range(len(f)) if i not in gone]
        view = "".join(f[i] for i in index)
        hits = []
        for key_index, start, end in self.keywords.matches(view):
            first, last = index[start], index[end - 1] + 1
            inside = [s for s, _ in removed if first < s < last]
            if len(inside) != 1:
                continue  # none (the keyword route has it) or more than the one insertion allowed
            key = self.keywords.keys[key_index]
            for record, route in self.keywords.records[key_index]:
                if route == "keyword" and _insertable(record, key):
                    hits.append(_hit(record, *norm.span(first, last, text), text, "inserted"))
        return hits

    def _search(self, pattern: regex.Pattern[str], text: str) -> bool:
        try:
            return pattern.search(text, timeout=self.regex_timeout) is not None
        except TimeoutError:
            logger.warning("regex term %r timed out on a message; treated as no match", pattern.pattern)
            return False


def _or_else(value: str | None, compute: Callable[[str], str], text: str) -> str:
    return value if value is not None else compute(text)


def _any_of(patterns: list[regex.Pattern[str]]) -> regex.Pattern[str] | None:
    """One alternation of ``patterns``, or None when there are fewer than two or they do not combine."""
    if len(patterns) < 2:
        return None
    try:
        return compile_term("|".join(f"(?:{p.pattern})" for p in patterns))
    except regex.error:
        return None


def _dedupe(hits: list[Hit]) -> list[Hit]:
    """One hit per term and span, from the most direct route (a pinyin hit on the span of a
    keyword hit of the same term adds nothing)."""
    seen: set[tuple[int, int, int]] = set()
    out = []
    for hit in sorted(hits, key=lambda h: (h.start, h.end, _PRIORITY.get(h.via, len(ROUTES)))):
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
