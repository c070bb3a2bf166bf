"""What happened to every message a run sent, read from Postgres (and from what the customers saw).

Each customer message ends in exactly one class:
- answered once: answered, exactly one reply, and that reply delivered;
- duplicated: more than one reply to it (in the database, or on the customer's screen);
- handed over: left to a human (failed or handed_over) and the customer was told so, by a
  delivered fallback reply to it or earlier in the same conversation;
- lost: everything else: never stored, still pending, reply not delivered, handed over silently.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psycopg

OUTCOME_SQL = """
SELECT i.channel_message_id, i.id, i.status, i.conversation_id,
       EXTRACT(EPOCH FROM i.created_at)::float8,
       count(r.id), count(r.id) FILTER (WHERE r.status = 'delivered'),
       coalesce(max(EXTRACT(EPOCH FROM r.delivered_at)), 0)::float8,
       coalesce(max((r.answer_meta ->> 'total_ms')::float8), 0),
       coalesce(EXTRACT(EPOCH FROM i.processing_started_at), 0)::float8,
       coalesce(EXTRACT(EPOCH FROM i.answered_at), 0)::float8,
       coalesce(i.answer_ms, 0)
FROM conversations_message i
LEFT JOIN conversations_message r ON r.reply_to_id = i.id AND r.direction = 'out'
WHERE i.direction = 'in' AND i.channel = %s AND i.channel_message_id LIKE %s
GROUP BY i.id
"""
# Conversations in which a fallback ("a human will reply") reached the customer.
TOLD_SQL = """
SELECT DISTINCT m.conversation_id FROM conversations_message m
WHERE m.direction = 'out' AND m.author_kind = 'system' AND m.status = 'delivered'
  AND m.conversation_id = ANY(%s)
"""
SETTLED = ("answered", "failed", "handed_over", "rate_limited")


@dataclass(frozen=True)
class Row:
    key: str
    id: int
    status: str
    conversation_id: int
    created_at: float
    replies: int
    delivered: int
    delivered_at: float
    llm_ms: float
    claimed_at: float
    answered_at: float
    answer_ms: int


@dataclass
class Tally:
    sent: int
    stored: int = 0
    answered_once: int = 0
    duplicated: int = 0
    handed_over: int = 0
    lost: int = 0
    lost_detail: Counter[str] = field(default_factory=Counter)
    rows: list[Row] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.duplicated == 0 and self.lost == 0 and self.answered_once + self.handed_over == self.sent

    def line(self) -> str:
        detail = f" ({dict(self.lost_detail)})" if self.lost_detail else ""
        return (
            f"sent {self.sent}, answered once {self.answered_once}, duplicated {self.duplicated}, "
            f"lost {self.lost}{detail}, handed over {self.handed_over}"
        )


def fetch(dsn: str, *, channel: str, prefix: str) -> tuple[list[Row], set[int]]:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        rows = [Row(*r) for r in conn.execute(OUTCOME_SQL, (channel, f"{prefix}%")).fetchall()]
        conversations = list({row.conversation_id for row in rows})
        told = {r[0] for r in conn.execute(TOLD_SQL, (conversations,)).fetchall()}
    return rows, told


def settled(rows: Iterable[Row]) -> int:
    return sum(1 for r in rows if r.status in SETTLED and (r.replies == 0 or r.delivered >= r.replies))


def wait_settled(
    dsn: str, *, channel: str, prefix: str, expected: int, timeout: float, check: Callable[[], None] | None = None
) -> None:
    """Poll until every sent message is stored and settled with its replies delivered, or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            rows, _ = fetch(dsn, channel=channel, prefix=prefix)
        except psycopg.OperationalError:
            rows = []  # the database may be restarting in a fault run
        if len(rows) >= expected and settled(rows) >= expected:
            return
        if check is not None:
            check()
        time.sleep(0.5)


def tally(
    dsn: str,
    *,
    channel: str,
    prefix: str,
    keys: Iterable[str],
    seen_replies: dict[int, int] | None = None,
) -> Tally:
    """Classify every sent key. ``seen_replies`` (inbound id -> distinct replies shown) adds the customer's view."""
    rows, told = fetch(dsn, channel=channel, prefix=prefix)
    by_key = {row.key: row for row in rows}
    keys = list(keys)
    result = Tally(sent=len(keys), stored=len(rows), rows=rows)
    for key in keys:
        row = by_key.get(key)
        if row is None:
            result.lost += 1
            result.lost_detail["never stored"] += 1
            continue
        shown = (seen_replies or {}).get(row.id, 0)
        if row.replies > 1 or shown > 1:
            result.duplicated += 1
        elif row.status == "answered" and row.replies == 1 and row.delivered == 1:
            result.answered_once += 1
        elif row.status in ("failed", "handed_over") and (row.delivered >= 1 or row.conversation_id in told):
            result.handed_over += 1
        else:
            result.lost += 1
            reason = row.status if row.status not in SETTLED else f"{row.status}, reply not delivered or not told"
            result.lost_detail[reason] += 1
    return result
