from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache

from apps.moderation import services
from apps.moderation.matcher import Matcher, TermRecord
from apps.moderation.models import AllowlistEntry, Term
from apps.moderation.selectors import RULES_VERSION_KEY
from tests.e2e.conftest import browser  # noqa: F401  (Playwright + Debian Chromium, shared with tests/e2e)


@pytest.fixture(autouse=True)
def _forget_rules_version() -> Iterator[None]:
    # Rows roll back between tests but Redis does not: make every worker-side snapshot stale.
    yield
    cache.delete(RULES_VERSION_KEY)


def records(*specs: dict[str, Any]) -> list[TermRecord]:
    defaults = {"kind": "keyword", "category": "abuse", "severity": 3, "action": "block", "match_pinyin": False}
    return [TermRecord(id=i + 1, **{**defaults, **spec}) for i, spec in enumerate(specs)]


def matcher_of(*specs: dict[str, Any]) -> Matcher:
    return Matcher(records(*specs))


@pytest.fixture
def make_term(db: None) -> Callable[..., Term]:
    def _make(text: str, **fields: Any) -> Term:
        values = {"kind": Term.Kind.KEYWORD, "category": "abuse", "action": "block", **fields}
        return services.term_save(term=Term(text=text, **values))

    return _make


@pytest.fixture
def make_allow(db: None) -> Callable[..., AllowlistEntry]:
    def _make(phrase: str, **fields: Any) -> AllowlistEntry:
        return services.allowlist_entry_save(entry=AllowlistEntry(phrase=phrase, **fields))

    return _make
