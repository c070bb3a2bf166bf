"""A scripted day of traffic through the real spine, console and routing services; every lifecycle
figure equals the value worked out by hand in the comments.

Rows stamp themselves with Django's clock (auto_now_add) and timers read the desk's clock, so the
``day`` fixture points both at one scripted time that ``clock.advance`` moves: each message, ticket
and close lands at the second the script says. Celery tasks are not run (they are enqueued on
commit, which these transactions never reach), so nobody is assigned automatically and the bot's
answers are written with the spine's own conversation_reply.
"""

from dataclasses import replace
from datetime import date, datetime
from types import ModuleType, SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from apps.console import services as console
from apps.conversations import services as spine
from apps.conversations.models import Conversation, Message, Satisfaction
from apps.reports.selectors.dashboard import ReportRange, conversation_outcomes
from apps.reports.selectors.lifecycle import Csat, Times, lifecycle_figures
from apps.reports.selectors.sla import sla_summary
from apps.routing import services as routing
from apps.routing.models import RoutingRule, SlaBreach, Team
from tests.console.conftest import agent_group
from tests.factories import SlaPolicyFactory, receive

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 10)
R = ReportRange(date_from=DAY, date_to=DAY)
EndReason = Conversation.EndReason


@pytest.fixture
def day(clock: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The desk's clock and Django's both read DAY 09:00 Shanghai plus what clock.advance added."""
    start = datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI)
    monkeypatch.setattr("apps.core.clock.timezone", SimpleNamespace(now=lambda: start))
    monkeypatch.setattr(timezone, "now", clock.now)
    return clock


def at_(clock: ModuleType, hms: str) -> None:
    """Move the clock forward to hh:mm:ss of DAY."""
    h, m, s = (int(x) for x in hms.split(":"))
    moment = datetime(2026, 3, 10, h, m, s, tzinfo=SHANGHAI)
    clock.advance((moment - clock.now()).total_seconds())


def agent(name: str) -> User:
    user = User.objects.create_user(name, password=f"pw-{name}-12345", is_staff=True)
    user.groups.add(agent_group())
    return user


def bot_resolved(clock: ModuleType, user: str, start: str, end: str) -> None:
    at_(clock, start)
    asked = receive("你们几点发货？", user=user).message
    conversation = Conversation.objects.get(pk=asked.conversation_id)
    spine.conversation_reply(conversation=conversation, body="每天下午四点前下单当天发货。", author_kind="bot")
    at_(clock, end)
    spine.conversation_end(conversation_id=conversation.pk, reason=EndReason.BOT_RESOLVED)


def queue(text: str, user: str) -> Conversation:
    asked = receive(text, user=user).message
    return spine.conversation_request_human(conversation_id=asked.conversation_id, message_id=asked.pk)


@pytest.mark.django_db
def test_a_scripted_day_gives_the_hand_computed_figures(day: ModuleType, settings: object) -> None:
    clock = day
    SlaPolicyFactory(first_response_s=300)
    sales, support = Team.objects.create(name="售前"), Team.objects.create(name="售后")
    RoutingRule.objects.create(priority=1, team=sales, keywords="价格,发票")
    RoutingRule.objects.create(priority=2, team=support, keywords="退货")
    alice, bob = agent("alice"), agent("bob")

    # Three bot-resolved conversations: 60 s, 120 s and 300 s from first message to close.
    bot_resolved(clock, "b1", "09:00:00", "09:01:00")
    bot_resolved(clock, "b2", "09:30:00", "09:32:00")
    bot_resolved(clock, "b3", "09:40:00", "09:45:00")

    # A1 (售前, alice): queued 10:00:00, taken 10:01:00 (wait 60), first reply 10:02:00 (first
    # response 120 < 300: no breach), closed 10:10:00 (resolution 600), rated 5.
    at_(clock, "10:00:00")
    a1 = queue("转人工，问一下价格", "a1")
    at_(clock, "10:01:00")
    console.conversation_take_over(conversation_id=a1.pk, agent=alice)
    at_(clock, "10:02:00")
    console.agent_reply(conversation_id=a1.pk, agent=alice, body="您好，我是客服小王")
    at_(clock, "10:10:00")
    console.conversation_close(conversation_id=a1.pk, agent=alice)
    at_(clock, "10:11:00")
    receive("5", user="a1")

    # A2 (售后, bob): queued 11:00:00, taken 11:03:00 (wait 180), first reply 11:06:40 (first
    # response 400 > 300: one first-response breach, recorded by the beat), closed 11:20:00
    # (resolution 1200), rated 3.
    at_(clock, "11:00:00")
    a2 = queue("转人工，我要退货", "a2")
    at_(clock, "11:03:00")
    console.conversation_take_over(conversation_id=a2.pk, agent=bob)
    at_(clock, "11:06:40")
    console.agent_reply(conversation_id=a2.pk, agent=bob, body="您好，请提供订单号")
    assert routing.sla_breaches_record() == 1
    at_(clock, "11:20:00")
    console.conversation_close(conversation_id=a2.pk, agent=bob)
    at_(clock, "11:21:00")
    receive("3分 一般", user="a2")

    # X1 (售前): queued 12:00:00, the customer gives up at 12:04:00 (resolution 240, under the
    # 300 s target: no breach), never assigned nor answered.
    at_(clock, "12:00:00")
    x1 = queue("转人工 发票", "x1")
    at_(clock, "12:04:00")
    spine.conversation_end(conversation_id=x1.pk, reason=EndReason.CUSTOMER_CLOSED)
    assert routing.sla_breaches_record() == 0

    # The script did what it says, through the services.
    ends = dict(Conversation.objects.values_list("customer__external_id", "end_reason"))
    assert ends == {
        "b1": EndReason.BOT_RESOLVED,
        "b2": EndReason.BOT_RESOLVED,
        "b3": EndReason.BOT_RESOLVED,
        "a1": EndReason.AGENT_RESOLVED,
        "a2": EndReason.AGENT_RESOLVED,
        "x1": EndReason.ABANDONED,  # closed while queued
    }
    assert list(Satisfaction.objects.order_by("score").values_list("score", flat=True)) == [3, 5]
    assert SlaBreach.objects.get().conversation_id == a2.pk
    assert not Message.objects.filter(created_at__date__lt=DAY).exists()

    figures = lifecycle_figures(r=R)
    overall = figures.overall
    # Closed 6: 3 bot, 2 agent, 1 abandoned; containment 3 / 6.
    assert overall.closed == 6
    assert overall.by_reason == {"bot_resolved": 3, "agent_resolved": 2, "abandoned": 1}
    assert overall.containment == 0.5
    # First response: A1 120, A2 400 -> median (120 + 400) / 2 = 260, mean 260.
    assert overall.first_response == Times(count=2, median=260.0, mean=260.0)
    # Resolution: 60, 120, 300, 600, 1200, 240 -> sorted 60 120 240 300 600 1200:
    # median (240 + 300) / 2 = 270, mean 2520 / 6 = 420.
    assert overall.resolution == Times(count=6, median=270.0, mean=420.0)
    # Queue wait: A1 60, A2 180 (X1 never assigned) -> median 120, mean 120.
    assert overall.queue_wait == Times(count=2, median=120.0, mean=120.0)
    # CSAT: 5 and 3 -> mean 4.0, one of two rated 4-5.
    assert overall.csat == Csat(count=2, mean=4.0, satisfied=1)
    assert overall.csat.satisfied_share == 0.5
    # SLA: A1, A2 and X1 had a human (X1's message was handed over), A2 breached -> 2 / 3.
    assert (overall.with_human, overall.breached) == (3, 1)
    assert overall.sla_compliance == pytest.approx(2 / 3)
    # The same as the dashboard's tile (sla.py over the dashboard's "with a human").
    with_human = conversation_outcomes(r=R).with_human
    assert sla_summary(r=R, with_human=with_human).compliance == overall.sla_compliance

    by_agent = {row.label: row for row in figures.agents}
    assert set(by_agent) == {"alice", "bob"}
    alice_row, bob_row = by_agent["alice"], by_agent["bob"]
    assert (alice_row.closed, alice_row.by_reason, alice_row.containment) == (1, {"agent_resolved": 1}, 0.0)
    assert alice_row.first_response == Times(count=1, median=120.0, mean=120.0)
    assert alice_row.resolution == Times(count=1, median=600.0, mean=600.0)
    assert alice_row.queue_wait == Times(count=1, median=60.0, mean=60.0)
    assert alice_row.csat == Csat(count=1, mean=5.0, satisfied=1)
    assert alice_row.sla_compliance == 1.0
    assert bob_row.first_response == Times(count=1, median=400.0, mean=400.0)
    assert bob_row.resolution == Times(count=1, median=1200.0, mean=1200.0)
    assert bob_row.queue_wait == Times(count=1, median=180.0, mean=180.0)
    assert bob_row.csat == Csat(count=1, mean=3.0, satisfied=0)
    assert bob_row.sla_compliance == 0.0

    by_team = {row.label: row for row in figures.teams}
    assert set(by_team) == {"售前", "售后"}
    pre = by_team["售前"]
    # 售前: A1 (agent-resolved, 600 s) and X1 (abandoned, 240 s): median (240 + 600) / 2 = 420.
    assert (pre.closed, pre.by_reason) == (2, {"agent_resolved": 1, "abandoned": 1})
    assert pre.resolution == Times(count=2, median=420.0, mean=420.0)
    assert pre.first_response == Times(count=1, median=120.0, mean=120.0)
    assert pre.queue_wait == Times(count=1, median=60.0, mean=60.0)
    assert pre.csat == Csat(count=1, mean=5.0, satisfied=1)
    assert (pre.with_human, pre.breached, pre.sla_compliance) == (2, 0, 1.0)
    post = by_team["售后"]
    assert (post.closed, post.with_human, post.breached, post.sla_compliance) == (1, 1, 1, 0.0)

    # Narrowed to a team or an agent, the overall row is that group's.
    assert replace(lifecycle_figures(r=R, team_id=sales.pk).overall, label="售前") == pre
    only_bob = lifecycle_figures(r=R, agent_id=bob.pk)
    assert only_bob.overall.resolution == bob_row.resolution
    assert only_bob.overall.queue_wait == bob_row.queue_wait
