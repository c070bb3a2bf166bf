"""The pinyin routes: homophones and romanisation (``match_pinyin``), initials (``match_initials``).

Matching runs on the *syllable view* of normalised text: every CJK character becomes one
private-use character standing for its toneless syllable (法 and 发 both become "fa"), Latin
letters and digits stay, clause punctuation stays a boundary, everything else goes ("fa lun
gong" -> "falungong"). Normalised text never holds private-use characters (they are dropped
as unassigned), so a syllable can only match a syllable. The view is one table gather over the
normalised text's code points: a few µs, against the ~30 µs the old character-by-character
romanisation cost.

A marked term becomes several keys: each CJK character either as its syllable or spelled out,
so "发轮功", "falungong" and "法lun功" all match 法轮功. A key that starts or ends with a Latin
letter must sit at a word edge of the normalised text (this view glues words together, so the
check looks there). Terms marked for initials get keys for the normalised text instead: their
own characters mixed with initials ("傻b", "s逼"), and the all-initials key ("sb"), which also
goes to the Latin routes (word edges, spaced letters).
"""

from dataclasses import dataclass
from functools import cache
from itertools import product

import numpy as np
import numpy.typing as npt

SYLLABLE_BASE = 0xE000  # the BMP private use area (6,400 code points for ~410 syllables): never in normalised text
_UNICODE_SIZE = 0x110000
_BOUNDARY = ",。!?;:、，！？；："
MIN_ROMANISED_KEY = 4  # shorter romanisations ("ma", "shi") occur inside everything
MAX_VARIANT_CHARACTERS = 4  # up to 2**4 spellings per term; longer terms: all-syllable and all-spelled only


@cache
def pinyin_table() -> dict[int, str]:
    """CJK character -> its most common toneless pinyin, to catch homophones and romanisation."""
    from pypinyin import Style, lazy_pinyin
    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[int, str] = {}
    for code in pinyin_dict:
        syllables = lazy_pinyin(chr(code), style=Style.NORMAL, errors="ignore")
        if syllables and syllables[0].isascii() and syllables[0].isalpha():
            table[code] = syllables[0]
    return table


@dataclass(frozen=True)
class Syllables:
    view: npt.NDArray[np.uint32]  # code point -> its character in the syllable view, 0 = dropped
    spelling: dict[str, str]  # syllable character -> its pinyin


@cache
def syllables() -> Syllables:
    table = pinyin_table()
    index = {syllable: i for i, syllable in enumerate(sorted(set(table.values())))}
    view = np.zeros(_UNICODE_SIZE, dtype=np.uint32)
    for code, syllable in table.items():
        view[code] = SYLLABLE_BASE + index[syllable]
    for char in "abcdefghijklmnopqrstuvwxyz0123456789" + _BOUNDARY:
        view[ord(char)] = ord(char)
    return Syllables(view=view, spelling={chr(SYLLABLE_BASE + i): s for s, i in index.items()})


def syllable_view_fast(normalised: str) -> str:
    """The syllable view of normalised text, for the cheap check (no index map): one gather, and
    the characters the view drops (decoded as NUL) gone in one ``str.replace``, cheaper than a mask
    and a compaction (two numpy calls, a µs or more each on 200 characters)."""
    codes = np.frombuffer(normalised.encode("utf-32-le"), dtype=np.uint32)
    return syllables().view.take(codes).tobytes().decode("utf-32-le").replace("\0", "")


def syllable_view(normalised: str) -> tuple[str, npt.NDArray[np.intp]]:
    """The view and, for each of its characters, its index in ``normalised``."""
    codes = np.frombuffer(normalised.encode("utf-32-le"), dtype=np.uint32)
    mapped = syllables().view.take(codes)
    kept = np.flatnonzero(mapped)
    return mapped[kept].tobytes().decode("utf-32-le"), kept


def is_syllable(char: str) -> bool:
    return SYLLABLE_BASE <= ord(char) < SYLLABLE_BASE + len(syllables().spelling)


@dataclass(frozen=True)
class _Position:
    char: str  # in the normalised key
    syllable: str  # its character in the syllable view (the character itself if not CJK)
    spelling: str
    initial: str

    @property
    def cjk(self) -> bool:
        return is_syllable(self.syllable)


def _positions(key: str) -> list[_Position]:
    view = syllables()
    out = []
    for char in key:
        mapped = int(view.view[ord(char)])
        if mapped == 0:
            continue  # a separator inside the term
        symbol = chr(mapped)
        spelling = view.spelling.get(symbol, symbol)
        out.append(_Position(char=char, syllable=symbol, spelling=spelling, initial=spelling[0]))
    return out


def _choices(count: int) -> list[tuple[bool, ...]]:
    if count <= MAX_VARIANT_CHARACTERS:
        return list(product((False, True), repeat=count))
    return [(False,) * count, (True,) * count]


def pinyin_keys(normalised_key: str) -> set[str]:
    """Syllable-view keys of a term marked for pinyin: homophones, spelled out, and mixed."""
    positions = _positions(normalised_key)
    cjk = [i for i, p in enumerate(positions) if p.cjk]
    if len(positions) < 2 or not cjk:
        return set()
    keys = set()
    for choice in _choices(len(cjk)):
        spell = {i for i, chosen in zip(cjk, choice, strict=True) if chosen}
        key = "".join(p.spelling if i in spell else p.syllable for i, p in enumerate(positions))
        if key.isascii() and len(key) < MIN_ROMANISED_KEY:
            continue
        keys.add(key)
    return keys


def initials_keys(normalised_key: str) -> tuple[set[str], str | None]:
    """Keys of a term marked for initials: the term's own characters mixed with initials, for
    the normalised text ("傻b", "s逼"; the characters themselves, not their homophones: initials
    are short and "啥b站" is no insult), and the all-initials key for the Latin routes ("sb")."""
    positions = _positions(normalised_key)
    cjk = [i for i, p in enumerate(positions) if p.cjk]
    if len(positions) < 2 or not cjk:
        return set(), None
    mixed: set[str] = set()
    for choice in _choices(len(cjk)):
        if not any(choice) or all(choice):
            continue
        initial = {i for i, chosen in zip(cjk, choice, strict=True) if chosen}
        mixed.add("".join(p.initial if i in initial else p.char for i, p in enumerate(positions)))
    latin = "".join(p.initial for p in positions)
    return mixed, latin if latin.isascii() else None
