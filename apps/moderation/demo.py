"""The demo rule set: a small blacklist, allowlist and semantic rules for a Chinese shop's desk
(data/demo_*.csv).

``manage.py moderation_demo`` loads them into a fresh desk; bench/moderation.py and the tests
measure false positives with them on ordinary Chinese text and on the demo shop's questions. The
blacklist and allowlist files are in the admin's import format, so an admin can also import them
by hand; the semantic rules' columns are the SemanticRule fields (examples one phrase a line).
"""

import csv
from pathlib import Path

from apps.moderation.allowlist import AllowRecord
from apps.moderation.matcher import TermRecord
from apps.moderation.semantic import RuleRecord

DATA = Path(__file__).resolve().parent / "data"
BLACKLIST_FILE = DATA / "demo_blacklist.csv"
ALLOWLIST_FILE = DATA / "demo_allowlist.csv"
SEMANTIC_RULES_FILE = DATA / "demo_semantic_rules.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def demo_blacklist_rows() -> list[dict[str, str]]:
    return _rows(BLACKLIST_FILE)


def demo_allowlist_rows() -> list[dict[str, str]]:
    return _rows(ALLOWLIST_FILE)


def demo_semantic_rules_rows() -> list[dict[str, str]]:
    return _rows(SEMANTIC_RULES_FILE)


def example_lines(examples: str) -> list[str]:
    """The phrases of an examples cell, as SemanticRule.example_list reads the field."""
    return [line.strip() for line in examples.splitlines() if line.strip()]


def demo_terms(*, routes: bool = True) -> list[TermRecord]:
    """The demo blacklist as matcher records; ``routes=False`` drops the per-term route marks
    (pinyin, initials, two-character insertion) to measure what they add."""
    return [
        TermRecord(
            id=i + 1,
            text=row["text"],
            kind=row["kind"],
            category=row["category"],
            severity=int(row["severity"]),
            action=row["action"],
            match_pinyin=routes and row["match_pinyin"] == "1",
            match_initials=routes and row["match_initials"] == "1",
            match_inserted=routes and row["match_inserted"] == "1",
        )
        for i, row in enumerate(demo_blacklist_rows())
        if row["enabled"] == "1"
    ]


def demo_allowlist() -> list[AllowRecord]:
    return [
        AllowRecord(id=i + 1, phrase=row["phrase"], category=row["category"])
        for i, row in enumerate(demo_allowlist_rows())
        if row["enabled"] == "1"
    ]


def demo_semantic_rules() -> list[RuleRecord]:
    """The enabled demo semantic rules as records, to score text without a database."""
    return [
        RuleRecord(
            id=i + 1,
            category=row["category"],
            examples=tuple(example_lines(row["examples"])),
            threshold=float(row["threshold"]),
            action=row["action"],
        )
        for i, row in enumerate(demo_semantic_rules_rows())
        if row["enabled"] == "1"
    ]
