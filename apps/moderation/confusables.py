"""Look-alikes of Latin letters and digits, folded to them before matching (UTS #39 data).

``data/confusables-latin.txt`` is the part of Unicode's confusables.txt (the UTS #39 skeleton
data) whose target is one ASCII letter or digit: Cyrillic а е о р с, Greek ο, Cherokee, Armenian
and mathematical look-alikes. It ships with the code (no download at run time); to refresh it,
keep the lines of a newer confusables.txt that pass the same test (its header says which).

UTS #39 computes skeletons of whole strings for comparison; the blacklist needs an offset map
back to the original for masks and highlights, so the data is applied here one character to one
character, after NFKC and case-folding (which already turn full-width and mathematical letters
into ASCII). Not every line applies:

- the source must be a letter, a digit or an "other symbol": punctuation and maths that merely
  look like a letter (│ → l, ∨ → v) stay separators, or "傻│逼" would stop reading as one word;
- nothing from the CJK, kana, bopomofo or Hangul blocks: 〇 is the Chinese zero, 丨 a radical.

Two additions the file does not cover, both one character to one character:
- Latin letters with diacritics fold to the bare letter (ó → o), which also reads toned pinyin;
- letter-like symbols named after a Latin letter or a digit (🅰 NEGATIVE SQUARED LATIN CAPITAL
  LETTER A, ❶ DINGBAT NEGATIVE CIRCLED DIGIT ONE), which NFKC leaves alone.
"""

import re
import unicodedata
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data" / "confusables-latin.txt"

_EXCLUDED_BLOCKS = (
    (0x1100, 0x1200),  # Hangul Jamo
    (0x2E80, 0xA000),  # CJK radicals and symbols, kana, bopomofo, Hangul compatibility, CJK
    (0xAC00, 0xD7B0),  # Hangul syllables
    (0xF900, 0xFB00),  # CJK compatibility ideographs
    (0xFE30, 0xFE50),  # CJK compatibility forms
    (0xFF00, 0xFFF0),  # half- and full-width forms: NFKC folds these already
    (0x20000, 0x32000),  # CJK extensions
)
_DIGITS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")
_LETTER_NAME = re.compile(r"LATIN (?:CAPITAL|SMALL) LETTER ([A-Z])$")
_DIGIT_NAME = re.compile(r"DIGIT (" + "|".join(_DIGITS) + r")$")
_SYMBOL_PLANE_1 = (0x1F100, 0x1F200)  # enclosed alphanumeric supplement (🅰, 🅐)


def _excluded(code: int) -> bool:
    return any(low <= code < high for low, high in _EXCLUDED_BLOCKS)


def _applies(char: str) -> bool:
    category = unicodedata.category(char)
    return (category[0] in "LN" or category == "So") and not _excluded(ord(char)) and not char.isascii()


def _ascii_alnum(text: str) -> bool:
    return len(text) == 1 and text.isascii() and text.isalnum()


@cache
def _from_unicode_data() -> dict[int, str]:
    table: dict[int, str] = {}
    for line in DATA_FILE.read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 2:
            continue
        source = [int(h, 16) for h in fields[0].split()]
        target = "".join(chr(int(h, 16)) for h in fields[1].split())
        folded = unicodedata.normalize("NFKC", target).casefold()
        if len(source) == 1 and _ascii_alnum(folded) and _applies(chr(source[0])):
            table[source[0]] = folded
    return table


def _bare_latin(char: str) -> str | None:
    """ó -> o: a Latin letter whose decomposition is one ASCII letter plus combining marks."""
    if not unicodedata.name(char, "").startswith("LATIN "):
        return None
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    base = base.casefold()
    return base if _ascii_alnum(base) and base != char else None


def _by_name(char: str) -> str | None:
    if unicodedata.category(char) != "So":
        return None
    name = unicodedata.name(char, "")
    if found := _LETTER_NAME.search(name):
        return found.group(1).lower()
    if found := _DIGIT_NAME.search(name):
        return str(_DIGITS.index(found.group(1)))
    return None


@cache
def latin_lookalikes() -> dict[int, str]:
    """Code point -> the ASCII letter or digit it passes for; only characters NFKC leaves non-ASCII."""
    table = dict(_from_unicode_data())
    ranges = [(0x80, 0x2E80), (0xA000, 0x10000), _SYMBOL_PLANE_1]
    for low, high in ranges:
        for code in range(low, high):
            if code in table or 0xD800 <= code <= 0xDFFF or _excluded(code):
                continue
            char = chr(code)
            if unicodedata.normalize("NFKC", char).isascii():
                continue  # NFKC already reaches ASCII (full-width, circled, mathematical letters)
            found = _bare_latin(char) or _by_name(char)
            if found:
                table[code] = found
    return table
