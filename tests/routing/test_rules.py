"""Routing rules give a queued conversation its team: by channel, by the moderation category that
sent it to a human, by keyword; first enabled rule by priority wins; none matches: no team."""

import pytest

from apps.conversations import services as spine
from apps.conversations.models import Message
from apps.routing.models import QueueTicket
from tests.factories import RoutingRuleFactory, TeamFactory, receive

pytestmark = pytest.mark.django_db


def team_of(message: Message) -> str | None:
    ticket = QueueTicket.objects.select_related("team").get(conversation_id=message.conversation_id)
    return ticket.team.name if ticket.team is not None else None


@pytest.fixture
def teams() -> None:
    after_sales, billing, complaints = (TeamFactory(name=n) for n in ("售后", "账单", "投诉"))
    RoutingRuleFactory(priority=10, team=complaints, moderation_category="abuse")
    RoutingRuleFactory(priority=20, team=billing, keywords="发票, 退款，账单")
    RoutingRuleFactory(priority=30, team=after_sales, channel="wechat_kf")
    RoutingRuleFactory(priority=5, team=after_sales, keywords="发票", enabled=False)


@pytest.mark.usefixtures("teams")
def test_a_keyword_in_the_message_that_asked_for_a_human_picks_the_team() -> None:
    asked = receive("我要退款，转人工").message

    spine.conversation_request_human(conversation_id=asked.conversation_id, message_id=asked.pk)

    assert team_of(asked) == "账单"  # the disabled rule above it is skipped


@pytest.mark.usefixtures("teams")
def test_the_moderation_category_that_held_the_message_picks_the_team() -> None:
    held = receive("你们这些骗子，我要退款").message
    hit = {"term": "骗子", "category": "abuse", "severity": 3, "action": "review"}
    details: dict[str, object] = {"verdict_in": {"action": "review", "evidence": {"hits": [hit]}}}

    spine.inbound_hand_over(message_id=held.pk, details=details)

    assert team_of(held) == "投诉"  # priority 10 beats the keyword rule at 20


@pytest.mark.usefixtures("teams")
def test_the_channel_picks_the_team_and_no_match_means_no_team() -> None:
    asked = receive("转人工", user="c1").message  # the simulator: no rule for it
    spine.conversation_request_human(conversation_id=asked.conversation_id, message_id=asked.pk)
    assert team_of(asked) is None

    RoutingRuleFactory(priority=40, team=TeamFactory(name="模拟器"), channel="simulator")
    again = receive("转人工", user="c2").message
    spine.conversation_request_human(conversation_id=again.conversation_id, message_id=again.pk)
    assert team_of(again) == "模拟器"


@pytest.mark.usefixtures("teams")
def test_a_failed_answer_queues_with_a_ticket_too() -> None:
    failed = receive("开一张发票").message

    spine.inbound_fail(message_id=failed.pk, reason="answer withheld by moderation (block)")

    assert team_of(failed) == "账单"
    assert QueueTicket.objects.get(conversation_id=failed.conversation_id).reason == "fail"


def test_a_customer_label_picks_the_team_through_the_person_behind_the_channel_identity() -> None:
    from django.contrib.auth.models import User

    from apps.customers import services as customers
    from apps.customers.models import Label

    vip = Label.objects.create(name="VIP", colour="#d4a017")
    RoutingRuleFactory(priority=10, team=TeamFactory(name="贵宾"), customer_label=vip)
    staff = User.objects.create_user("lead", is_staff=True)

    first = receive("你好", user="c1").message
    person = customers.person_for(customer_id=first.conversation.customer_id)
    customers.customer_label_add(actor=staff, person_id=person.pk, label_id=vip.pk)
    spine.conversation_request_human(conversation_id=first.conversation_id, message_id=first.pk)
    assert team_of(first) == "贵宾"

    other = receive("转人工", user="c2").message  # no label: the rule does not hold
    spine.conversation_request_human(conversation_id=other.conversation_id, message_id=other.pk)
    assert team_of(other) is None
