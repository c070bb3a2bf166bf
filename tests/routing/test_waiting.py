"""What a waiting customer hears, through the real spine (Celery eager, the simulator channel):
their place and wait on entering, a follow-up after a moved clock, one acknowledgement."""

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from apps.conversations.models import Conversation, ConversationEvent, Message
from apps.routing import selectors, services
from apps.routing.models import QueueTicket
from tests.factories import receive
from tests.routing.conftest import load

pytestmark = pytest.mark.usefixtures("eager_tasks")
Mode = Conversation.Mode


def system_messages(conversation_id: int) -> list[tuple[str, str]]:
    rows = Message.objects.filter(conversation_id=conversation_id, author_kind=Message.AuthorKind.SYSTEM)
    return [(m.answer_meta.get("notice", ""), m.body) for m in rows.order_by("id")]


def queue_text(position: int, minutes: int) -> str:
    return settings.DESK_ROUTING_QUEUE_TEXT.format(position=position, minutes=minutes)


def test_a_free_agent_gets_the_customer_within_the_task_and_no_position_is_sent(
    on_shift: Callable[..., User],
) -> None:
    alice = on_shift("alice", capacity=1)

    asked = receive("转人工", user="c1").message

    conversation = Conversation.objects.get(pk=asked.conversation_id)
    assert (conversation.mode, conversation.assignee) == (Mode.HUMAN, alice)
    kinds = list(ConversationEvent.objects.filter(conversation=conversation).values_list("kind", flat=True))
    assert kinds == ["requested_human", "auto_assigned"]
    assert system_messages(conversation.pk) == [("", settings.DESK_HUMAN_REQUEST_REPLY)]


def test_a_customer_who_must_wait_hears_their_place_and_wait_once(on_shift: Callable[..., User]) -> None:
    alice = on_shift("alice", capacity=1)
    receive("转人工", user="c1")  # takes alice's one seat
    assert load(alice) == 1

    second = receive("转人工", user="c2").message
    third = receive("我要人工客服", user="c3").message

    # No history yet: DESK_ROUTING_DEFAULT_HANDLE_S (300 s) per place, one seat on shift.
    assert system_messages(second.conversation_id) == [("queue", queue_text(1, 5))]
    assert system_messages(third.conversation_id) == [("queue", queue_text(2, 10))]
    told = Message.objects.get(conversation_id=second.conversation_id, author_kind="system")
    assert (told.reply_to_id, told.status) == (second.pk, Message.Status.DELIVERED)
    assert Conversation.objects.get(pk=second.conversation_id).mode == Mode.QUEUED


def test_the_estimate_comes_from_recent_handle_times(on_shift: Callable[..., User], clock: ModuleType) -> None:
    alice = on_shift("alice", capacity=2)
    for user in ("c1", "c2"):
        receive("转人工", user=user)
    # Both were handled in 2 minutes.
    clock.advance(120)
    for conversation in Conversation.objects.filter(assignee=alice):
        from apps.console import services as console

        console.conversation_close(conversation_id=conversation.pk, agent=alice)
    for user in ("c3", "c4"):
        receive("转人工", user=user)  # alice is full again

    waiting = receive("转人工", user="c5").message

    # Place 1, median handle 120 s, 2 seats: 1 minute.
    assert system_messages(waiting.conversation_id) == [("queue", queue_text(1, 1))]


def test_chats_handed_on_by_an_agent_going_offline_do_not_count_as_handle_times(
    on_shift: Callable[..., User], clock: ModuleType
) -> None:
    alice = on_shift("alice", capacity=2)
    for user in ("c1", "c2"):
        receive("转人工", user=user)
    clock.advance(10)
    services.agent_status_set(user_id=alice.pk, status="offline", actor_id=alice.pk)  # both back in line

    waiting = receive("转人工", user="c3").message

    # Nobody on shift: no estimate is sent; with no real handling yet, the default stands.
    assert selectors.handle_seconds(team_id=None) == settings.DESK_ROUTING_DEFAULT_HANDLE_S
    assert Conversation.objects.get(pk=waiting.conversation_id).mode == Mode.QUEUED


def test_a_waiting_customer_hears_again_after_the_follow_up_time(
    on_shift: Callable[..., User], clock: ModuleType, settings: Any
) -> None:
    on_shift("alice", capacity=1)
    receive("转人工", user="c1")
    waiting = receive("转人工", user="c2").message

    assert services.follow_ups_send() == 0
    clock.advance(settings.DESK_ROUTING_FOLLOW_UP_S - 1)
    assert services.follow_ups_send() == 0
    clock.advance(2)
    assert services.follow_ups_send() == 1
    assert services.follow_ups_send() == 0  # not twice for one interval

    follow_up = settings.DESK_ROUTING_FOLLOW_UP_TEXT.format(position=1, minutes=5)
    assert system_messages(waiting.conversation_id) == [("queue", queue_text(1, 5)), ("queue_follow_up", follow_up)]
    settings.DESK_ROUTING_FOLLOW_UP_MAX = 2
    clock.advance(settings.DESK_ROUTING_FOLLOW_UP_S)
    assert services.follow_ups_send() == 1
    clock.advance(settings.DESK_ROUTING_FOLLOW_UP_S)
    assert services.follow_ups_send() == 0  # at most DESK_ROUTING_FOLLOW_UP_MAX


def test_messages_sent_while_waiting_go_to_the_agent_and_are_acknowledged_once(
    on_shift: Callable[..., User],
) -> None:
    alice = on_shift("alice", capacity=1)
    receive("转人工", user="c1")
    entered = receive("转人工", user="c2").message

    written = [receive(text, user="c2").message for text in ("在吗", "我的订单号是 123", "快点")]

    for message in written:
        message.refresh_from_db()
        assert message.status == Message.Status.HANDED_OVER  # waiting for the agent, not the bot
    assert not Message.objects.filter(conversation_id=entered.conversation_id, author_kind="bot").exists()
    notices = [notice for notice, _ in system_messages(entered.conversation_id)]
    assert notices == ["queue", "queue_ack"]
    ack = Message.objects.get(conversation_id=entered.conversation_id, answer_meta__notice="queue_ack")
    assert (ack.body, ack.reply_to_id) == (settings.DESK_ROUTING_ACK_TEXT, written[0].pk)

    # When alice's seat frees, the waiting customer is hers, with what they wrote.
    first = Conversation.objects.get(assignee=alice)
    from apps.console import services as console

    console.conversation_close(conversation_id=first.pk, agent=alice)
    conversation = Conversation.objects.get(pk=entered.conversation_id)
    assert (conversation.mode, conversation.assignee) == (Mode.HUMAN, alice)
    ticket = QueueTicket.objects.get(conversation=conversation)
    assert ticket.acked_at is not None
    assert ticket.assigned_at is not None


def test_with_nobody_on_shift_the_spine_notice_stands_and_the_follow_up_still_comes(
    clock: ModuleType, settings: Any
) -> None:
    asked = receive("转人工", user="c1").message

    assert system_messages(asked.conversation_id) == [("", settings.DESK_HUMAN_REQUEST_REPLY)]
    clock.advance(settings.DESK_ROUTING_FOLLOW_UP_S)
    assert services.follow_ups_send() == 1
    assert [n for n, _ in system_messages(asked.conversation_id)] == ["", "queue_follow_up"]
