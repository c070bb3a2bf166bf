"""A keyed blind index: search encrypted text without storing any of it in clear.

Text is normalised (NFKC, which also folds full-width forms, then casefold) and cut into tokens:
runs of CJK characters and runs of other letters and digits ("words"); punctuation and spaces only
separate tokens. A row's index is the set of its terms, each hashed with HMAC-SHA256 under the
search key and cut to a signed 32-bit integer:

- words, whole (no prefixes): "Refund" and "ＲＥＦＵＮＤ" are the term ``w:refund``;
- CJK runs, as character bigrams: "我要退款" is ``c:我要``, ``c:要退``, ``c:退款``. A lone CJK
  character gives no term, so a query needs two adjacent CJK characters or one word.

A query's terms are a subset of the terms of every row that contains it, so ``index @> query``
finds every true hit; it also finds rows that hold the terms in another order or in separate
places, and (32 bits) now and then a hash collision: ``phrase_spans`` confirms each candidate on
its decrypted text. The search key is derived from the key ring's primary key with a label of its
own, so it is never the encryption key; a new primary key means a rebuild (rotate_keys does it).
What the index reveals to someone with the database but not the key: docs/security.md.
"""

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cache
from typing import Any

from apps.core import crypto

_KEY_LABEL = b"desk blind index v1"
# Han (with extensions and compatibility forms), kana and hangul: scripts written without spaces.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN = re.compile(f"([{_CJK}]+)|([^\\W_{_CJK}]+)")


@dataclass(frozen=True)
class Token:
    text: str  # normalised
    start: int  # offsets in the normalised text
    end: int
    cjk: bool


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def tokens(normalised: str) -> list[Token]:
    return [Token(m.group(), m.start(), m.end(), m.group(1) is not None) for m in _TOKEN.finditer(normalised)]


def _term_strings(normalised: str) -> set[str]:
    # The write path: plain regex groups, no Token objects (a third of the cost per message).
    terms: set[str] = set()
    for cjk, word in _TOKEN.findall(normalised):
        if word:
            terms.add("w:" + word)
        else:
            terms.update("c:" + cjk[i : i + 2] for i in range(len(cjk) - 1))
    return terms


@cache
def _search_key(base: bytes) -> bytes:
    return hmac.new(base, _KEY_LABEL, hashlib.sha256).digest()


def search_key(ring: crypto.Keyring | None = None) -> bytes:
    ring = ring or crypto.keyring()
    return _search_key(ring.keys[ring.primary_id])


@cache
def _keyed(key: bytes) -> "hmac.HMAC":
    return hmac.new(key, digestmod=hashlib.sha256)


def _hashes(key: bytes, terms: Iterable[str]) -> list[int]:
    """Each term's HMAC-SHA256, first 4 bytes as a signed int4, sorted and deduplicated.

    Copying a keyed HMAC is a third cheaper than keying one per term (1.4 against 2.1 µs).
    """
    keyed = _keyed(key)
    out = set()
    for term in terms:
        mac = keyed.copy()
        mac.update(term.encode())
        out.add(int.from_bytes(mac.digest()[:4], "big", signed=True))
    return sorted(out)


def index_terms(text: str | None, *, key: bytes | None = None) -> list[int]:
    """The sorted, deduplicated index of a stored text (what goes in the column)."""
    if not text:
        return []
    return _hashes(key or search_key(), _term_strings(normalise(text)))


@dataclass(frozen=True)
class Query:
    text: str
    tokens: list[Token]
    terms: list[int]  # empty: nothing to search for (no word, no two adjacent CJK characters)


def query_parse(text: str, *, key: bytes | None = None) -> Query:
    normalised = normalise(text)
    toks = tokens(normalised)
    terms = _hashes(key or search_key(), _term_strings(normalised)) if toks else []
    return Query(text=text, tokens=toks, terms=terms)


def _token_matches(body: Token, query: Token, *, first: bool, last: bool) -> bool:
    if body.cjk != query.cjk:
        return False
    if not query.cjk or (not first and not last):
        return body.text == query.text
    # The phrase may start inside the body's first CJK run and end inside its last one.
    if first and last:
        return query.text in body.text
    return body.text.endswith(query.text) if first else body.text.startswith(query.text)


def _normalised_spans(body: list[Token], query: list[Token]) -> list[tuple[int, int]]:
    n = len(query)
    spans: list[tuple[int, int]] = []
    for i in range(len(body) - n + 1):
        window = body[i : i + n]
        pairs = enumerate(zip(window, query, strict=True))
        if not all(_token_matches(b, q, first=k == 0, last=k == n - 1) for k, (b, q) in pairs):
            continue
        head, tail = window[0], window[-1]
        if n == 1:
            at = head.text.find(query[0].text)
            spans.extend(_occurrences(head, query[0].text, at))
            continue
        start = head.end - len(query[0].text) if query[0].cjk else head.start
        end = tail.start + len(query[-1].text) if query[-1].cjk else tail.end
        spans.append((start, end))
    return spans


def _occurrences(tok: Token, needle: str, at: int) -> list[tuple[int, int]]:
    found = []
    while at >= 0:
        found.append((tok.start + at, tok.start + at + len(needle)))
        at = tok.text.find(needle, at + len(needle)) if tok.cjk else -1
    return found


def _offsets(text: str) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, the offset of the original one."""
    normalised = normalise(text)
    if len(normalised) == len(text):
        return normalised, list(range(len(text) + 1))
    # NFKC or casefold changed lengths ("ß" → "ss", "㈱" → "(株)"): map character by character.
    parts, origin = [], []
    for i, ch in enumerate(text):
        piece = normalise(ch)
        parts.append(piece)
        origin.extend([i] * len(piece))
    origin.append(len(text))
    return "".join(parts), origin


def phrase_spans(text: str, query: Query) -> list[tuple[int, int]]:
    """Where the query's tokens occur, consecutively, in ``text`` (offsets in ``text``); [] if not.

    Each stored text is confirmed on its own, so a phrase split across two messages never matches.
    """
    if not query.tokens:
        return []
    normalised, origin = _offsets(text)
    return [(origin[s], origin[e - 1] + 1) for s, e in _normalised_spans(tokens(normalised), query.tokens)]


# Rebuilding: the one loop behind the migrations that add an index, search_reindex and rotate_keys.
Progress = Callable[[int], Any]


def index_rebuild(
    cursor: Any,
    *,
    table: str,
    source: str,
    target: str,
    context: str | None,
    batch: int = 1000,
    progress: Progress | None = None,
    page: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> int:
    """Recompute ``target`` from ``source`` for every row of ``table`` under the current search key.

    ``context``: the source's encryption context (``table.column``), None for a plaintext source.
    ``page``: wraps each page's writes (``transaction.atomic``), so a long table never holds its
    row locks for the whole run; a migration, atomic already, leaves the default.
    """
    quote = cursor.db.ops.quote_name
    key = search_key()
    last, done = None, 0
    while True:
        where = "WHERE id > %s " if last is not None else ""
        cursor.execute(
            f"SELECT id, {quote(source)} FROM {quote(table)} {where}ORDER BY id LIMIT %s",  # noqa: S608 (our names)
            [last, batch] if last is not None else [batch],
        )
        rows = cursor.fetchall()
        if not rows:
            return done
        updates = []
        for pk, stored in rows:
            text = crypto.decrypt(stored, context=context) if context and stored else stored
            updates.append((index_terms(text, key=key), pk))
        with page():
            cursor.executemany(f"UPDATE {quote(table)} SET {quote(target)} = %s WHERE id = %s", updates)  # noqa: S608
        last, done = rows[-1][0], done + len(rows)
        if progress:
            progress(len(rows))
