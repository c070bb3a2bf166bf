"""Per-stage timing of the blacklist's cheap check, and the previous code side by side, for
``python bench/moderation.py --skip-semantic --profile [--reference DIR]``.

The cheap check (``Matcher._suspect``) is what a clean message costs, and most messages are
clean, so the mean is made of its stages: the fold, one automaton per route, the views, the
regex terms. ``--reference DIR`` imports a copy of an earlier apps/moderation from DIR as the
package ``old_moderation`` (its own imports renamed), e.g.:

    mkdir -p /tmp/oldpkg/old_moderation
    for f in __init__ normalise confusables latin pinyin matcher allowlist regex_guard; do
        git show HEAD:apps/moderation/$f.py | sed 's/apps\\.moderation\\./old_moderation./g' \\
            > /tmp/oldpkg/old_moderation/$f.py; done
    ln -s "$PWD/apps/moderation/data" /tmp/oldpkg/old_moderation/data

and times it on the same messages in the same process (the box is shared and noisy: only
figures from one run compare), after checking that both give the same hits on every message.
"""

import importlib
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from apps.moderation.latin import latin_view_fast
from apps.moderation.matcher import _VIEW_HINT, Matcher
from apps.moderation.normalise import Folded, fold_fast, fold_numpy
from apps.moderation.pinyin import syllable_view_fast


def mean_us(fn: Callable[[Any], object], items: list[Any], rounds: int = 5) -> float:
    """Mean over items of the best of ``rounds`` passes, as bench/moderation.py measures."""
    best = [float("inf")] * len(items)
    for _ in range(rounds):
        for i, item in enumerate(items):
            started = time.perf_counter()
            fn(item)
            best[i] = min(best[i], (time.perf_counter() - started) * 1e6)
    return statistics.fmean(best)


def stages(matcher: Matcher, messages: list[str]) -> None:
    """The cheap check's stages on the clean messages, each timed alone."""
    clean = [m for m in messages if matcher._suspect(m) is None]
    folds: list[Folded] = [fold_fast(m, True) for m in clean]
    # Without the compiled fold (not built), the hint and the view come from Python.
    hinted = [f for f in folds if (f.hint if f.hint is not None else _VIEW_HINT.search(f.text))]
    views = [f.syllables if f.syllables is not None else syllable_view_fast(f.text) for f in folds]
    rows = [
        ("whole match, clean messages", mean_us(matcher.match, clean)),
        ("fold + syllable view + view hint (fold_fast)", mean_us(lambda m: fold_fast(m, True), clean)),
        ("keyword automaton", mean_us(lambda f: matcher.keywords.find(f.text), folds)),
        ("syllable automaton", mean_us(matcher.syllables.find, views)),
        (
            f"Latin view (the {len(hinted)} hinted messages)",
            mean_us(lambda f: latin_view_fast(f.text), hinted or folds),
        ),
        (
            "regex terms (digit-run prefilter + search)",
            mean_us(
                lambda f: [f.has_digit_run(n) and matcher._search(p, f.text) for p, n in matcher.cheap_regexes], folds
            ),
        ),
        # What the compiled fold replaces, where it is not built:
        ("  without it: fold (fold_numpy)", mean_us(fold_numpy, clean)),
        ("  without it: syllable view", mean_us(lambda f: syllable_view_fast(f.text), folds)),
        ("  without it: view hint regex", mean_us(lambda f: _VIEW_HINT.search(f.text), folds)),
    ]
    print(f"per stage, {len(clean)} clean messages of {len(messages)} (mean of the best of 5 per message):")
    for name, value in rows:
        print(f"  {name:48s} {value:6.1f} µs")


def reference_matcher(directory: str, records: list[Any], allow: list[Any]) -> Callable[[str], list[Any]]:
    """The earlier code's matcher over the same terms, built from its own record classes."""
    sys.path.insert(0, directory)
    old = importlib.import_module("old_moderation.matcher")
    old_allow = importlib.import_module("old_moderation.allowlist")
    terms = [old.TermRecord(**vars(r)) for r in records]
    entries = [old_allow.AllowRecord(**vars(a)) for a in allow]
    return old.Matcher(terms, allowlist=entries).match


def compare(new: Callable[[str], list[Any]], old: Callable[[str], list[Any]], messages: list[str]) -> None:
    """Same hits, same spans, same routes on every message, then both timed in this process."""

    def key(hits: list[Any]) -> list[tuple[object, ...]]:
        return [(h.term_id, h.start, h.end, h.matched, h.via) for h in hits]

    differ = [m for m in messages if key(new(m)) != key(old(m))]
    hits = sum(1 for m in messages if new(m))
    print(f"reference check: {len(messages) - len(differ)}/{len(messages)} messages give identical hits ({hits} hit)")
    for message in differ[:3]:
        print(f"  differs: {message!r}: new {key(new(message))} old {key(old(message))}")
    old_us, new_us = mean_us(old, messages), mean_us(new, messages)
    print(f"every route on, same run: previous code mean {old_us:.1f} µs, now {new_us:.1f} µs ({old_us / new_us:.2f}x)")
