"""Round trips counted around one call: SQL statements (Django) and Redis commands (redis-py), for the
query-count tests of issue 22 (tests/conversations and tests/wechat test_query_counts.py)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from django.db import connection
from django.test.utils import CaptureQueriesContext


@dataclass
class RoundTrips:
    statements: list[str] = field(default_factory=list)  # each statement's first word: SELECT, BEGIN…
    redis: list[str] = field(default_factory=list)  # each command's name


@contextmanager
def round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[RoundTrips]:
    """Statements and redis-py commands issued inside the block (the channel layer's async client is
    not redis-py's sync one, and is not counted)."""
    counted = RoundTrips()
    real = redis.Redis.execute_command

    def execute(self: redis.Redis, *args: Any, **options: Any) -> Any:
        counted.redis.append(str(args[0]))
        return real(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", execute)
    try:
        with CaptureQueriesContext(connection) as queries:
            yield counted
    finally:
        monkeypatch.undo()
    counted.statements.extend(q["sql"].strip().split(" ", 1)[0] for q in queries.captured_queries)
