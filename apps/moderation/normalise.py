"""Text normalisation that undoes the usual evasions before blacklist matching.

Per character: NFKC (full-width -> half-width, ① -> 1), case-fold, traditional ->
simplified (OpenCC's character table), look-alikes of Latin letters and digits to them
(Cyrillic а, Greek ο, 🅰: apps.moderation.confusables), zero-width and combining marks dropped. Then
symbols and spaces between two CJK characters are removed and repeated CJK characters
collapsed. Clause punctuation (，。！？；：、) stays a boundary: removing it would join the end
of one clause to the start of the next and flag benign sentences.

Every message goes through here. ``fold_fast`` is the check every message takes (the text and
the drops, no offsets); ``normalise`` adds the offsets, for the few messages that hit something.
``fold_fast`` is one call into ``_fold.c`` (built by ``build_fold.py`` at install time), which also
gives the matcher the syllable view and the view hint in the same pass; without the compiled module
it is ``fold_numpy``, vectorised over the UTF-32 code points (each array operation costs a µs or
more whatever the length, so it takes as few as the text allows). Characters whose fold is longer
than one character (ß -> ss, ⑩ -> 10) are rare and take the per-character Python path,
``normalise_reference``, which is also the definition the tests compare both fast paths against.
"""

import logging
import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import opencc
import regex

from apps.moderation.confusables import latin_lookalikes
from apps.moderation.pinyin import syllables

try:
    from apps.moderation import _fold as _compiled_fold  # type: ignore[attr-defined]
except ImportError:  # not compiled (no C compiler at install): fold_numpy serves
    _compiled_fold = None

logger = logging.getLogger(__name__)

_CJK_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0x20000, 0x31350))
_BOUNDARY = frozenset(",，。!！?？;；:：、")
_DROPPED_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Cc", "Cs", "Co"})
_KEPT_CONTROLS = frozenset("\t\n\r")
_UNICODE_SIZE = 0x110000
_TABLE_LIMIT = 0x32000  # folds are computed for the BMP and the CJK planes; above, identity

# Kind bits, indexed by the original code point.
CJK = 1  # the folded character is a CJK ideograph
SEPARATOR = 2  # the folded character is a space, symbol or punctuation other than a boundary
DELETED = 4  # the character folds to nothing (zero-width, combining mark, control)
MULTI = 8  # the character folds to more than one character
DIGIT = 16  # the folded character is a digit to the regex module's \d (only ever alone: kind 0 otherwise)
_KIND_SHIFT = 24  # Tables.packed: fold | kind << 24 (code points need 21 bits)
_FOLD_MASK = np.uint32((1 << _KIND_SHIFT) - 1)
_KIND_BYTE = 3 if sys.byteorder == "little" else 0  # the byte of a packed uint32 that holds the kind
# In the kind bytes: a run of separators (2) or deleted characters (6) between two CJK characters
# (1). It starts with the class, so the engine skips in C to the few separators; the lookbehind
# then wants the CJK character before the run (a lookbehind first is tried at every position).
_SEPARATOR_RUN = re.compile(rb"[\x02\x06](?<=\x01[\x02\x06])[\x02\x06]*(?=\x01)")
_MULTI_BYTE = bytes([MULTI])
_DELETED_BYTE = bytes([DELETED | SEPARATOR])
_CJK_BYTE = bytes([CJK])
_CJK_SEPARATOR = bytes([CJK, SEPARATOR])  # a separator run between CJK starts with one of these two
_CJK_DELETED = bytes([CJK, DELETED | SEPARATOR])
_DIGIT_BYTE = bytes([DIGIT])


@dataclass(frozen=True)
class Normalised:
    text: str
    offsets: list[int]  # offsets[i]: index in the original text of normalised character i

    def span(self, start: int, end: int, original: str) -> tuple[int, int]:
        """The original-text span of normalised characters [start, end), with the repeats of
        its last character that normalisation collapsed ("逼逼" is one hit, not half of one)."""
        first, last = self.offsets[start], self.offsets[end - 1] + 1
        tail = self.text[end - 1]
        table = tables().fold
        while last < len(original) and table.get(ord(original[last]), original[last]) == tail:
            last += 1
        return first, last


@dataclass(frozen=True)
class Tables:
    fold: dict[int, str]  # code point -> fold, only where it differs
    fold_array: npt.NDArray[np.uint32]  # code point -> single-character fold (identity for MULTI)
    kind: npt.NDArray[np.uint8]  # code point -> kind bits
    packed: npt.NDArray[np.uint32]  # code point -> fold | kind << 24: one gather gives both
    confusable: frozenset[int]  # code points whose fold went through a Latin look-alike


@cache
def _t2s_chars() -> dict[str, str]:
    """Traditional -> simplified for single characters, from OpenCC's own dictionary."""
    converter = opencc.OpenCC("t2s")
    table_file = Path(opencc.__file__).resolve().parent / "dictionary" / "TSCharacters.txt"
    mapping: dict[str, str] = {}
    for line in table_file.read_text(encoding="utf-8").splitlines():
        source = line.split("\t", 1)[0]
        if len(source) == 1:
            target = converter.convert(source)
            if target != source and len(target) == 1:
                mapping[source] = target
    return mapping


def _fold(char: str, t2s: dict[str, str]) -> str:
    if char in _KEPT_CONTROLS:
        return " "
    if unicodedata.category(char) in _DROPPED_CATEGORIES:
        return ""
    folded = unicodedata.normalize("NFKC", char).casefold()
    return "".join(t2s.get(part, part) for part in folded if unicodedata.category(part) not in _DROPPED_CATEGORIES)


def _is_cjk_code(code: int) -> bool:
    return any(low <= code < high for low, high in _CJK_RANGES)


def _is_separator(char: str) -> bool:
    return not char.isalnum() and char not in _BOUNDARY


@cache
def tables() -> Tables:
    t2s = _t2s_chars()
    lookalikes = latin_lookalikes()
    confusable: set[int] = set()
    fold: dict[int, str] = {}
    fold_array = np.arange(_UNICODE_SIZE, dtype=np.uint32)
    kind = np.zeros(_UNICODE_SIZE, dtype=np.uint8)
    for low, high in _CJK_RANGES:
        kind[low:high] = CJK
    # Lone surrogates (a JSON "\ud800" decodes to one) are category Cs: deleted like the other
    # invisible characters, so that no automaton or encoder downstream ever sees one.
    for code in range(_TABLE_LIMIT):
        char = chr(code)
        unconfused = _fold(char, t2s)
        if code in lookalikes and not unconfused.isascii():
            folded = lookalikes[code]  # Greek Κ: its lower case κ is no look-alike, the capital is
        else:
            folded = "".join(lookalikes.get(ord(part), part) for part in unconfused)
        if folded != unconfused:
            confusable.add(code)
        if folded != char:
            fold[code] = folded
        if folded == "":
            kind[code] = DELETED | SEPARATOR  # invisible: transparent between CJK, removed everywhere
        elif len(folded) > 1:
            kind[code] = MULTI
        else:
            fold_array[code] = ord(folded)
            kind[code] = CJK if _is_cjk_code(ord(folded)) else (SEPARATOR if _is_separator(folded) else 0)
    # The regex module's own \d (its Unicode data may be newer than unicodedata's), of the fold.
    digits = [m.start() for m in regex.finditer(r"\d", fold_array.tobytes().decode("utf-32-le", "surrogatepass"))]
    kind[np.array(digits, dtype=np.int64)[kind[digits] == 0]] = DIGIT
    packed = (fold_array | (kind.astype(np.uint32) << _KIND_SHIFT)).astype(np.uint32)
    return Tables(fold=fold, fold_array=fold_array, kind=kind, packed=packed, confusable=frozenset(confusable))


class Folded(NamedTuple):
    """``fold_fast``'s result. A NamedTuple, not a frozen dataclass: every message builds one, and
    a frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) costs ~1.5 µs."""

    text: str  # == normalise(text).text
    drops: list[int]  # original positions the normalised text leaves out: sorted, maybe repeated
    reference: Normalised | None = None  # a multi-character fold went the reference's way
    kinds: bytes | None = None  # fold_numpy: kind byte per original character
    digit_run: int | None = None  # the compiled fold: the longest run of \d digits
    syllables: str | None = None  # the compiled fold, when asked: pinyin.syllable_view_fast(text)
    hint: bool | None = None  # the compiled fold: could a Latin or insertion view differ from text?

    def has_digit_run(self, length: int) -> bool:
        """Could the text hold ``length`` digits in a row? (No false negatives: a regex term that
        needs an 11-digit run cannot match without one, and this costs a substring search.)"""
        if self.digit_run is not None:
            return length <= 1 or self.digit_run >= length
        if self.kinds is None or length <= 1:
            return True
        # Only deleted characters drop from between two digits (the other drops need CJK).
        return _DIGIT_BYTE * length in self.kinds.replace(_DELETED_BYTE, b"")


def _without(full: str, drops: list[int]) -> str:
    """A handful of drops per message: slices beat a numpy mask and compaction (three calls)."""
    starts = [0, *[drop + 1 for drop in drops]]
    return "".join([full[start:end] for start, end in zip(starts, [*drops, len(full)], strict=True)])


FoldFunction = Callable[[str, bool], "Folded | None"]
# fold_fast's function for (text only, with the syllable view), set on first use: the compiled
# fold once its tables are handed over, else fold_numpy. A list, not a cached function: its
# lookup is the cheapest thing a call every message makes could do.
_prepared: list[FoldFunction | None] = [None, None]


def _prepare(syllable_view: bool) -> FoldFunction:
    if _compiled_fold is None:
        logger.warning("apps/moderation/_fold.c is not compiled (make install): the slower numpy fold serves")
        function: FoldFunction = _numpy_fold
        _prepared[:] = [function, function]
        return function
    if _prepared[False] is None:
        _compiled_fold.init(tables().packed, Folded)
        _prepared[False] = _compiled_fold.fold
    if syllable_view:
        _compiled_fold.init_view(syllables().view)
        _prepared[True] = _compiled_fold.fold
    return _compiled_fold.fold


def _numpy_fold(text: str, syllable_view: bool) -> "Folded | None":
    return fold_numpy(text)


def fold_fast(text: str, syllable_view: bool = False) -> Folded:
    """The normalised text and its drops: one call into the compiled fold, which also gives the
    digit run, the view hint and (when asked) the syllable view; ``fold_numpy`` where it is not built.
    A multi-character fold (ß, ⑩) goes the reference's way."""
    fold = _prepared[syllable_view] or _prepare(syllable_view)
    folded = fold(text, syllable_view)
    if folded is None:
        reference = normalise_reference(text)
        return Folded(text=reference.text, drops=[], reference=reference)
    return folded


def fold_numpy(text: str) -> Folded:
    """The fallback, and a second reference for the compiled fold. The normalised text, in as few
    array operations as the text allows: each numpy call costs a µs or more whatever its length,
    so the kind bytes answer "is there a separator, a repeat, a deleted character?" with C-speed
    ``in`` tests, and the drops (a handful per message) come out of the decoded text by slicing
    rather than by a mask and a compaction (three numpy calls)."""
    t = tables()
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)  # lone ones: deleted
    packed = t.packed.take(codes)
    kind_bytes = packed.view(np.uint8)[_KIND_BYTE::4].tobytes()
    if _MULTI_BYTE in kind_bytes:
        reference = normalise_reference(text)
        return Folded(text=reference.text, drops=[], reference=reference)
    folded = packed & _FOLD_MASK
    # Positions to drop: separator runs between two CJK characters, deleted characters
    # everywhere, CJK repeats (also across a dropped run: 傻 傻逼).
    drops: list[int] = []
    bridged: list[tuple[int, int]] = []
    if _DELETED_BYTE in kind_bytes:
        drops.extend((np.frombuffer(kind_bytes, dtype=np.uint8) == DELETED | SEPARATOR).nonzero()[0].tolist())
    if _CJK_SEPARATOR in kind_bytes or _CJK_DELETED in kind_bytes:
        for found in _SEPARATOR_RUN.finditer(kind_bytes):
            start, end = found.span()
            drops.extend(range(start, end))
            bridged.append((start - 1, end))
    if len(folded) > 1 and _CJK_BYTE in kind_bytes:
        same = (folded[1:] == folded[:-1]).nonzero()[0]  # the method: np.flatnonzero adds a µs of Python
        drops += [i + 1 for i in same.tolist() if kind_bytes[i + 1] == CJK]
        drops += [after for before, after in bridged if folded[before] == folded[after]]
    full = folded.tobytes().decode("utf-32-le", "surrogatepass")  # lone surrogates: sliced out below
    if not drops:
        return Folded(text=full, drops=drops, kinds=kind_bytes)
    # Sorted, not deduplicated (a deleted character inside a bridged run is in both lists): a
    # repeated position only adds an empty slice, and a set would cost more than it saves.
    drops.sort()
    return Folded(text=_without(full, drops), drops=drops, kinds=kind_bytes)


def normalise_fast(text: str) -> str:
    return fold_fast(text).text


def normalise(text: str, *, with_offsets: bool = True, folded: Folded | None = None) -> Normalised:
    """Normalised text and, unless asked not to, the offset map back to ``text`` (whose
    ``fold_fast`` result the caller may already have)."""
    folded = folded if folded is not None else fold_fast(text)
    if not with_offsets:
        return Normalised(text=folded.text, offsets=[])
    if folded.reference is not None:
        return folded.reference
    if not folded.drops:
        return Normalised(text=folded.text, offsets=list(range(len(text))))
    keep = np.ones(len(text), dtype=bool)
    keep[folded.drops] = False
    return Normalised(text=folded.text, offsets=keep.nonzero()[0].tolist())


def normalise_reference(text: str) -> Normalised:
    """The definition, one character at a time: slow, and handles multi-character folds."""
    t = tables()
    chars: list[str] = []
    offsets: list[int] = []
    deleted: list[bool] = []
    for index, char in enumerate(text):
        replacement = t.fold.get(ord(char), char)
        if replacement == "":
            chars.append("")
            offsets.append(index)
            deleted.append(True)
            continue
        for part in replacement:
            chars.append(part)
            offsets.append(index)
            deleted.append(False)

    def cjk(i: int) -> bool:
        return not deleted[i] and _is_cjk_code(ord(chars[i]))

    def transparent(i: int) -> bool:
        return deleted[i] or _is_separator(chars[i])

    kept: list[int] = []
    i = 0
    while i < len(chars):
        if not transparent(i):
            kept.append(i)
            i += 1
            continue
        run_end = i
        while run_end < len(chars) and transparent(run_end):
            run_end += 1
        between_cjk = i > 0 and run_end < len(chars) and cjk(i - 1) and cjk(run_end)
        if not between_cjk:
            kept.extend(j for j in range(i, run_end) if not deleted[j])
        i = run_end

    out_chars: list[str] = []
    out_offsets: list[int] = []
    for j in kept:
        if out_chars and chars[j] == out_chars[-1] and _is_cjk_code(ord(chars[j])):
            continue
        out_chars.append(chars[j])
        out_offsets.append(offsets[j])
    return Normalised(text="".join(out_chars), offsets=out_offsets)
