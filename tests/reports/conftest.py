"""A hand-built desk history whose every dashboard figure is worked out by hand in test_figures.py.

Days are calendar days in Asia/Shanghai (settings.TIME_ZONE): D1 = 2026-03-01 .. D3 = 2026-03-03.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType, SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from apps.conversations.models import Conversation, Customer, Message
from apps.moderation.models import Flag

SHANGHAI = ZoneInfo("Asia/Shanghai")
IN, OUT = Message.Direction.INBOUND, Message.Direction.OUTBOUND
CUSTOMER, BOT, AGENT, SYSTEM = (
    Message.AuthorKind.CUSTOMER,
    Message.AuthorKind.BOT,
    Message.AuthorKind.AGENT,
    Message.AuthorKind.SYSTEM,
)
S = Message.Status


def at(day: int, hms: str) -> datetime:
    h, m, s = (int(x) for x in hms.split(":"))
    return datetime(2026, 3, day, h, m, s, tzinfo=SHANGHAI) if day else datetime(2026, 2, 28, h, m, s, tzinfo=SHANGHAI)


@dataclass
class History:
    alice: User
    bob: User
    messages: dict[str, Message]


class _Builder:
    def __init__(self, prefix: str = "c") -> None:
        self.messages: dict[str, Message] = {}
        self.prefix = prefix
        self._n = 0

    def conversation(
        self,
        channel: str,
        created: datetime,
        *,
        mode: str = "bot",
        closed: datetime | None = None,
        assignee: User | None = None,
    ) -> Conversation:
        self._n += 1
        customer = Customer.objects.create(
            channel=channel, external_id=f"{self.prefix}{self._n}", display_name=f"客户{self._n}"
        )
        conv = Conversation.objects.create(
            customer=customer, channel=channel, mode=mode, assignee=assignee, closed_at=closed
        )
        Conversation.objects.filter(pk=conv.pk).update(created_at=created)
        return conv

    def message(
        self,
        key: str,
        conv: Conversation,
        when: datetime,
        direction: str,
        author_kind: str,
        status: str,
        *,
        author: User | None = None,
        answer_ms: int | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Message:
        msg = Message.objects.create(
            conversation=conv,
            channel=conv.channel,
            direction=direction,
            author_kind=author_kind,
            author=author,
            body=f"{key} 内容, with a comma",
            status=status,
            answer_ms=answer_ms,
            answer_meta=meta or {},
        )
        Message.objects.filter(pk=msg.pk).update(created_at=when)
        msg.refresh_from_db()
        self.messages[key] = msg
        return msg


def _llm(endpoint: str, ttft: int | None, source: str = "llm") -> dict[str, Any]:
    return {"endpoint": endpoint, "ttft_ms": ttft, "total_ms": 1, "tokens_in": 10, "tokens_out": 20, "source": source}


@pytest.fixture
def history(db: None) -> History:
    alice = User.objects.create_user("alice", password="pw-alice-12345", is_staff=True)
    bob = User.objects.create_user("bob", password="pw-bob-12345", is_staff=True)
    b = _Builder()

    # C1, D1: the bot answers twice (once from the cache) and the conversation closes without a human.
    c1 = b.conversation("simulator", at(1, "10:00:00"), mode="closed", closed=at(1, "10:05:00"))
    b.message("c1-in1", c1, at(1, "10:00:00"), IN, CUSTOMER, S.ANSWERED)
    b.message("c1-out1", c1, at(1, "10:00:02"), OUT, BOT, S.DELIVERED, answer_ms=1500, meta=_llm("gpu-a", 300))
    b.message("c1-in2", c1, at(1, "10:01:00"), IN, CUSTOMER, S.ANSWERED)
    b.message("c1-out2", c1, at(1, "10:01:04"), OUT, BOT, S.DELIVERED, answer_ms=3000, meta=_llm("gpu-a", 500, "cache"))

    # C2, D1: moderation hands the first message to a human; alice answers after 30 s and closes.
    c2 = b.conversation("simulator", at(1, "11:00:00"), mode="closed", closed=at(1, "11:10:00"), assignee=alice)
    b.message("c2-in1", c2, at(1, "11:00:00"), IN, CUSTOMER, S.HANDED_OVER)
    b.message("c2-out1", c2, at(1, "11:00:30"), OUT, AGENT, S.DELIVERED, author=alice)

    # C3, D2: the bot answers, then fails; bob takes over 60 s after the failed message, still open.
    c3 = b.conversation("official_account", at(2, "09:00:00"), mode="human", assignee=bob)
    b.message("c3-in1", c3, at(2, "09:00:00"), IN, CUSTOMER, S.ANSWERED)
    b.message("c3-out1", c3, at(2, "09:00:01"), OUT, BOT, S.DELIVERED, answer_ms=1000, meta=_llm("gpu-b", 200))
    b.message("c3-in2", c3, at(2, "09:02:00"), IN, CUSTOMER, S.FAILED)
    b.message("c3-out2", c3, at(2, "09:02:01"), OUT, SYSTEM, S.DELIVERED)
    b.message("c3-out3", c3, at(2, "09:03:00"), OUT, AGENT, S.DELIVERED, author=bob)

    # C4, D3: answered from the knowledge base (no TTFT), still with the bot.
    c4 = b.conversation("official_account", at(3, "08:00:00"))
    b.message("c4-in1", c4, at(3, "08:00:00"), IN, CUSTOMER, S.ANSWERED)
    b.message(
        "c4-out1", c4, at(3, "08:00:05"), OUT, BOT, S.DELIVERED, answer_ms=5000, meta=_llm("gpu-b", None, "knowledge")
    )

    # C6, D2 00:30 Shanghai = D1 16:30 UTC: must count on D2. Closed by the bot after 10 min.
    c6 = b.conversation("wecom_kf", at(2, "00:30:00"), mode="closed", closed=at(2, "00:40:00"))
    b.message("c6-in1", c6, at(2, "00:30:00"), IN, CUSTOMER, S.ANSWERED)
    b.message("c6-out1", c6, at(2, "00:30:10"), OUT, BOT, S.DELIVERED, answer_ms=9000, meta=_llm("gpu-a", 1000))

    # C5, the day before the range: everything about it must be left out.
    c5 = b.conversation("simulator", at(0, "23:59:00"), mode="closed", closed=at(1, "00:10:00"))
    b.message("c5-in1", c5, at(0, "23:59:00"), IN, CUSTOMER, S.ANSWERED)
    b.message("c5-out1", c5, at(0, "23:59:59"), OUT, BOT, S.DELIVERED, answer_ms=99_999, meta=_llm("gpu-a", 9999))

    m = b.messages

    def flag(message: Message, direction: str, hits: list[str], semantic: Sequence[str] = ()) -> None:
        evidence = {"hits": [{"category": c} for c in hits], "semantic": [{"category": c} for c in semantic]}
        Flag.objects.create(message=message, direction=direction, verdict="review", text="x", evidence=evidence)

    flag(m["c1-in1"], "in", ["fraud", "fraud"])  # two fraud terms: one flagged message
    flag(m["c2-in1"], "in", ["abuse"], ["fraud"])
    flag(m["c3-in1"], "out", [], ["pii"])  # a flag on the bot's answer points at the customer message
    flag(m["c5-in1"], "in", ["fraud"])  # outside the range
    return History(alice=alice, bob=bob, messages=m)


@pytest.fixture
def manager(db: None) -> User:
    user = User.objects.create_user("manager", password="pw-manager-12345", is_staff=True, email="boss@example.com")
    user.user_permissions.add(Permission.objects.get(content_type__app_label="reports", codename="manager"))
    return User.objects.get(pk=user.pk)  # fresh: no cached permissions


@pytest.fixture
def agent(db: None) -> User:
    return User.objects.create_user("agent", password="pw-agent-12345", is_staff=True, email="agent@example.com")


@pytest.fixture
def export_root(settings: Any, tmp_path: Any) -> Any:
    settings.REPORTS_EXPORT_ROOT = str(tmp_path / "exports")
    return tmp_path / "exports"


LoginAs = Callable[[User], Any]


@pytest.fixture
def day(clock: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """For scripted_day.play: the desk's clock and Django's both read 2026-03-10 09:00 Shanghai
    plus what clock.advance added."""
    start = datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI)
    monkeypatch.setattr("apps.core.clock.timezone", SimpleNamespace(now=lambda: start))
    monkeypatch.setattr(timezone, "now", clock.now)
    return clock
