"""The Latin routes: letters spelled apart ("a s s", "f.u.c.k", "q q 群") and leet ("@ss", "sh1t").

They run on the *Latin view* of normalised text, built only when the text holds something for
them to undo (the matcher's one regex search decides), and only Latin terms (keys with an ASCII
letter) are looked up there.

- **Spaced**: a chain of two or more single letters or digits separated by spaces or symbols
  (not clause punctuation) is joined, and so is the gap between such a chain and the CJK
  character after it.
  The joined letters are one word, so the usual word edges apply: "a s s e t" becomes "asset",
  where "ass" does not match.
- **Leet**, for tokens of three or more characters with a letter and no digit outside the table
  (so "sf1234567890" and "2024" stay numbers):

      @ -> a    $ -> s    0 -> o    3 -> e    5 -> s    1 -> i or l

  1 stays 1 in the view; instead each Latin key gets variants with its i and l written as 1 (at
  most three of them), so "k1ll" and "ki1l" both find "kill" without merging i and l everywhere.
  Keys of fewer than three letters take no leet: "5g" is a phone, not "sg".

Both keep one view character per normalised character except the dropped gaps, so the index map
back (computed only for texts that matched) stays exact.
"""

import re
from itertools import combinations

LEET = str.maketrans({"@": "a", "$": "s", "0": "o", "3": "e", "5": "s"})
MIN_LEET_KEY = 3
MAX_ONE_VARIANTS = 3  # i/l positions written as 1 in a key's variants (2**3 keys at most)

TOKEN = "a-z0-9@$"  # noqa: S105 - a character class: a token is a run of these
_LEET = "a-z0135@$"  # what a leet token is made of: letters and the table's characters
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f"
# Not a token character, not a word character of any script, not clause punctuation.
GAP = rf"(?:[^\w{TOKEN},。!?;:、，！？；：]|_)"

# What follows the first character of a token for each route to apply: the matcher's hint
# puts them behind one [TOKEN] class, so that one scan, which the regex engine runs in C from
# candidate to candidate, serves every message.
CHAIN_AFTER_FIRST = rf"(?<![{TOKEN}][{TOKEN}])(?={GAP}+[{TOKEN}](?![{TOKEN}]))"
LEET_AFTER_FIRST = (
    rf"(?<![{TOKEN}][{TOKEN}])(?<=[{_LEET}])"
    rf"(?=[{_LEET}]*(?:(?<=[a-z])[0135@$]|(?<=[0135@$])[a-z]))[{_LEET}]{{{MIN_LEET_KEY - 1},}}(?![{TOKEN}])"
)

_CHAIN = re.compile(rf"[{TOKEN}](?<![{TOKEN}][{TOKEN}])(?:{GAP}+[{TOKEN}](?![{TOKEN}]))+(?:{GAP}+(?=[{_CJK}]))?")
_LEET_TOKEN = re.compile(rf"[{TOKEN}]{LEET_AFTER_FIRST}")
_GAP_CHARACTER = re.compile(GAP)


def _join(found: re.Match[str]) -> str:
    return _GAP_CHARACTER.sub("", found.group())


def _unleet(found: re.Match[str]) -> str:
    return found.group().translate(LEET)


def latin_view_fast(normalised: str) -> str:
    """The Latin view of normalised text (for the cheap check: no index map)."""
    return _LEET_TOKEN.sub(_unleet, _CHAIN.sub(_join, normalised))


def latin_view(normalised: str) -> tuple[str, list[int], set[int]]:
    """The view, the index in ``normalised`` of each of its characters, and the view positions
    a leet substitution changed."""
    index: list[int] = []
    joined: list[str] = []
    position = 0
    for found in _CHAIN.finditer(normalised):
        index.extend(range(position, found.start()))
        joined.append(normalised[position : found.start()])
        for offset, char in enumerate(found.group()):
            if not _GAP_CHARACTER.fullmatch(char):
                index.append(found.start() + offset)
                joined.append(char)
        position = found.end()
    index.extend(range(position, len(normalised)))
    joined.append(normalised[position:])
    chars = list("".join(joined))
    changed: set[int] = set()
    for found in _LEET_TOKEN.finditer("".join(chars)):
        for position in range(*found.span()):
            plain = chars[position].translate(LEET)
            if plain != chars[position]:
                chars[position] = plain
                changed.add(position)
    return "".join(chars), index, changed


def is_latin_key(key: str) -> bool:
    return any("a" <= c <= "z" for c in key)


def latin_keys(normalised_key: str) -> set[str]:
    """View keys of a Latin term: its key in view spelling, and the variants with i/l as 1."""
    key = normalised_key.translate(LEET)
    if not is_latin_key(key):
        return set()
    keys = {key}
    if sum(c.isascii() and c.isalpha() for c in key) < MIN_LEET_KEY:
        return keys
    spots = [i for i, c in enumerate(key) if c in "il"]
    if len(spots) > MAX_ONE_VARIANTS:
        return keys | {"".join("1" if c in "il" else c for c in key)}
    for size in range(1, len(spots) + 1):
        for chosen in combinations(spots, size):
            keys.add("".join("1" if i in chosen else c for i, c in enumerate(key)))
    return keys
