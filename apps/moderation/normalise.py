"""Text normalisation that undoes the usual evasions before blacklist matching.

Per character: NFKC (full-width -> half-width, ① -> 1), case-fold, traditional ->
simplified (OpenCC's character table), zero-width and combining marks dropped. Then
symbols and spaces between two CJK characters are removed and repeated CJK characters
collapsed. Clause punctuation (，。！？；：、) stays a boundary: removing it would join the end
of one clause to the start of the next and flag benign sentences.

Every message goes through here, so the common path is vectorised with numpy over the
UTF-32 code points (a handful of array operations, no per-character Python); the offset
map back to the original text falls out of the same index arithmetic. Characters whose
fold is longer than one character (ß -> ss, ⑩ -> 10) are rare and take the per-character
Python path, which is also the reference the tests compare the vectorised path against.
"""

import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import opencc

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

IntArray = npt.NDArray[np.int64]


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
    fold: dict[int, str] = {}
    fold_array = np.arange(_UNICODE_SIZE, dtype=np.uint32)
    kind = np.zeros(_UNICODE_SIZE, dtype=np.uint8)
    for low, high in _CJK_RANGES:
        kind[low:high] = CJK
    for code in range(_TABLE_LIMIT):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        folded = _fold(char, t2s)
        if folded != char:
            fold[code] = folded
        if folded == "":
            kind[code] = DELETED | SEPARATOR  # invisible: transparent between CJK, removed everywhere
        elif len(folded) > 1:
            kind[code] = MULTI
        else:
            fold_array[code] = ord(folded)
            kind[code] = CJK if _is_cjk_code(ord(folded)) else (SEPARATOR if _is_separator(folded) else 0)
    return Tables(fold=fold, fold_array=fold_array, kind=kind)


def normalise(text: str, *, with_offsets: bool = True) -> Normalised:
    """Normalised text and, unless asked not to, the offset map back to ``text``."""
    if not text:
        return Normalised(text="", offsets=[])
    t = tables()
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    kinds = t.kind[codes]
    present = int(np.bitwise_or.reduce(kinds))
    if present & MULTI:
        return normalise_reference(text)
    folded = t.fold_array[codes]
    index: IntArray | None = None  # original index of each kept character; None = all kept

    if present & SEPARATOR:
        keep = _separators_kept(kinds)
        index = np.flatnonzero(keep)
        folded, kinds = folded[keep], kinds[keep]
    if present & CJK and len(folded) > 1:
        same = folded[1:] == folded[:-1]
        if same.any():
            keep = np.ones(len(folded), dtype=bool)
            keep[1:] = ~(same & (kinds[1:] & CJK).astype(bool))
            folded = folded[keep]
            index = np.flatnonzero(keep) if index is None else index[keep]

    result = folded.tobytes().decode("utf-32-le")
    if not with_offsets:
        return Normalised(text=result, offsets=[])
    offsets = list(range(len(text))) if index is None else index.tolist()
    return Normalised(text=result, offsets=offsets)


def normalise_fast(text: str) -> str:
    return normalise(text, with_offsets=False).text


def _separators_kept(kinds: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Drop deleted characters everywhere and separator runs whose both neighbours are CJK."""
    transparent = (kinds & SEPARATOR).astype(bool)
    keep = ~transparent
    candidates = np.flatnonzero(transparent).tolist()
    # Chinese text carries a separator or two per message: walking the runs beats the
    # dozen array operations a vectorised neighbour search costs.
    last = len(kinds) - 1
    run_start = 0
    for position, candidate in enumerate(candidates):
        if position == 0 or candidates[position - 1] != candidate - 1:
            run_start = candidate
        if position + 1 < len(candidates) and candidates[position + 1] == candidate + 1:
            continue
        between_cjk = run_start > 0 and candidate < last and kinds[run_start - 1] & CJK and kinds[candidate + 1] & CJK
        if not between_cjk:
            for index in range(run_start, candidate + 1):
                if not kinds[index] & DELETED:
                    keep[index] = True
    return keep


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


# --- pinyin ---------------------------------------------------------------------------------


@cache
def pinyin_table() -> dict[int, str]:
    """CJK character -> its most common toneless pinyin, to catch homophones and romanisation."""
    from pypinyin import Style, lazy_pinyin
    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[int, str] = {}
    for code in pinyin_dict:
        syllables = lazy_pinyin(chr(code), style=Style.NORMAL, errors="ignore")
        if syllables and syllables[0].isascii():
            table[code] = syllables[0]
    return table


def _pinyin_part(part: str) -> str:
    return "".join(c for c in part if c.isascii() and c.isalnum())


def pinyin(normalised: Normalised) -> Normalised:
    """Pinyin form of normalised text: syllables and Latin letters/digits run together."""
    table = pinyin_table()
    chars: list[str] = []
    offsets: list[int] = []
    for i, char in enumerate(normalised.text):
        for part in _pinyin_part(table.get(ord(char), char)):
            chars.append(part)
            if normalised.offsets:
                offsets.append(normalised.offsets[i])
    return Normalised(text="".join(chars), offsets=offsets)


class _PinyinTranslation(dict[int, str]):
    """str.translate table filled on first sight of each character, so lookups stay in C."""

    def __missing__(self, code: int) -> str:
        value = _pinyin_part(pinyin_table().get(code, chr(code)))
        self[code] = value
        return value


_PINYIN_TRANSLATION = _PinyinTranslation()


def pinyin_fast(normalised_text: str) -> str:
    return normalised_text.translate(_PINYIN_TRANSLATION)


def term_pinyin(term: str) -> str:
    return pinyin(normalise(term, with_offsets=False)).text
