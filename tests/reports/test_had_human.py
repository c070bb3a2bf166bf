"""One definition of "had a human": the outcomes (containment, hand-off rate) and the resolution
times split the same conversations the same way, each way a human can come in counted alike."""

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import User

from apps.conversations.models import Conversation
from apps.reports import selectors
from apps.reports.selectors import ReportRange
from tests.reports.conftest import AGENT, BOT, CUSTOMER, IN, OUT, SYSTEM, S, _Builder, at

DAY = ReportRange(date_from=date(2026, 3, 1), date_to=date(2026, 3, 1))


@pytest.fixture
def one_of_each(db: None) -> None:
    """Closed conversations that each had a human in exactly one way (closed after 1..4 min), two
    closed without one (10 and 20 min), and two open ones a human holds only by their mode."""
    alice = User.objects.create_user("alice", password="pw-alice-12345", is_staff=True)
    b = _Builder(prefix="hh")
    start = at(1, "09:00:00")

    def closed(minutes: int, assignee: User | None = None) -> Conversation:
        created = start + timedelta(minutes=30 * minutes)  # 09:30 .. 19:00, all on 1 March
        conv = b.conversation(
            "simulator", created, mode="closed", closed=created + timedelta(minutes=minutes), assignee=assignee
        )
        b.message(f"in-{minutes}", conv, created, IN, CUSTOMER, S.ANSWERED)
        return conv

    closed(1, assignee=alice)
    agent_only = closed(2)
    b.message("agent", agent_only, start + timedelta(minutes=60, seconds=5), OUT, AGENT, S.DELIVERED, author=alice)
    handed_over = closed(3)
    b.message("handed-over", handed_over, start + timedelta(minutes=90, seconds=5), IN, CUSTOMER, S.HANDED_OVER)
    failed = closed(4)
    b.message("failed-in", failed, start + timedelta(minutes=120, seconds=5), IN, CUSTOMER, S.FAILED)

    bot_only = closed(10)
    b.message("bot", bot_only, start + timedelta(minutes=300, seconds=2), OUT, BOT, S.DELIVERED)
    # A failed delivery and a system notice are not a human taking part.
    b.message("failed-out", bot_only, start + timedelta(minutes=300, seconds=3), OUT, BOT, S.FAILED)
    b.message("system", bot_only, start + timedelta(minutes=300, seconds=4), OUT, SYSTEM, S.DELIVERED)
    closed(20)

    b.conversation("simulator", start + timedelta(hours=11), mode="queued")
    b.conversation("simulator", start + timedelta(hours=11, minutes=1), mode="human")
    b.conversation("simulator", start + timedelta(hours=11, minutes=2))  # still with the bot


def test_outcomes_and_resolution_times_split_the_same_conversations(one_of_each: None) -> None:
    outcomes = selectors.conversation_outcomes(r=DAY)
    without_human, with_human = selectors.resolution_times(r=DAY)

    assert (outcomes.conversations, outcomes.closed, outcomes.closed_without_human) == (9, 6, 2)
    assert outcomes.with_human == 4 + 2  # the four closed ones and the two open ones a human holds
    assert without_human.count == outcomes.closed_without_human
    assert with_human.count == outcomes.closed - outcomes.closed_without_human
    assert (without_human.mean, with_human.mean) == (15 * 60.0, 2.5 * 60.0)
