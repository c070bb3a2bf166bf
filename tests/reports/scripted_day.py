"""The scripted day of traffic (DAY, 2026-03-10 Shanghai) through the real spine, console and
routing services, shared by the lifecycle tests (test_lifecycle_figures.py works every figure out
by hand), the dashboard, the conversation export and the periodic e-mails. Run it under the
``day`` fixture (tests/reports/conftest.py), which points the desk's and Django's clocks at DAY.

Celery tasks are not run (they are enqueued on commit, which these transactions never reach), so
nobody is assigned automatically and the bot's answers are written with the spine's own
conversation_reply.
"""

from dataclasses import dataclass
from datetime import date, datetime
from types import ModuleType
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User

from apps.console import services as console
from apps.conversations import services as spine
from apps.conversations.models import Conversation
from apps.reports.selectors.dashboard import ReportRange
from apps.routing import services as routing
from apps.routing.models import RoutingRule, Team
from tests.console.conftest import agent_group
from tests.factories import SlaPolicyFactory, receive

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 10)
R = ReportRange(date_from=DAY, date_to=DAY)
EndReason = Conversation.EndReason


@dataclass
class Played:
    sales: Team
    support: Team
    alice: User
    bob: User
    a1: Conversation
    a2: Conversation
    x1: Conversation


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


def play(clock: ModuleType) -> Played:
    """Three bot-resolved conversations, A1 (售前, alice), A2 (售后, bob, one SLA breach) and X1
    (售前, abandoned in the queue); the figures are worked out in test_lifecycle_figures.py."""
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
    return Played(sales=sales, support=support, alice=alice, bob=bob, a1=a1, a2=a2, x1=x1)
