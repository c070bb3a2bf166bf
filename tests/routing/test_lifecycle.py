"""Lifecycle, through the real spine (Celery eager, the simulator channel) with a moved clock:
idle conversations close by themselves, every close says how it ended, and a customer who writes
soon after a close gets the same conversation back."""

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from django.contrib.auth.models import User

from apps.console import services as console
from apps.conversations import services as spine
from apps.conversations.models import Conversation, ConversationEvent, Message
from apps.routing import services
from apps.routing.models import AgentStatus, QueueTicket
from tests.factories import receive

pytestmark = pytest.mark.usefixtures("eager_tasks")
Mode = Conversation.Mode
EndReason = Conversation.EndReason


def kinds(conversation_id: int) -> list[str]:
    rows = ConversationEvent.objects.filter(conversation_id=conversation_id).order_by("pk")
    return list(rows.values_list("kind", flat=True))


def test_an_idle_bot_conversation_closes_after_the_bot_idle_time_as_resolved_by_the_bot(
    clock: ModuleType, settings: Any
) -> None:
    asked = receive("你们几点发货？", user="c1").message
    conversation = Conversation.objects.get(pk=asked.conversation_id)
    assert Message.objects.filter(conversation=conversation, author_kind="bot").exists()

    clock.advance(settings.DESK_IDLE_CLOSE_BOT_S - 30)
    assert services.conversations_close_idle() == 0
    clock.advance(60)
    assert services.conversations_close_idle() == 1
    assert services.conversations_close_idle() == 0

    conversation.refresh_from_db()
    assert (conversation.mode, conversation.end_reason) == (Mode.CLOSED, EndReason.BOT_RESOLVED)
    assert conversation.closed_at is not None
    assert kinds(conversation.pk) == [ConversationEvent.Kind.CLOSED]
    # The bot's close is silent by default (DESK_IDLE_CLOSE_BOT_TEXT "").
    assert not Message.objects.filter(conversation=conversation, author_kind="system").exists()


def test_a_bot_conversation_nobody_answered_ends_as_idle_and_the_beat_task_closes_it(
    clock: ModuleType, settings: Any
) -> None:
    from django.db import transaction

    from apps.routing import tasks

    with transaction.atomic():  # a channel event opened it (a subscription): no message at all
        conversation = spine.conversation_open(channel="simulator", external_id="c1")
    clock.advance(settings.DESK_IDLE_CLOSE_BOT_S + 1)

    assert tasks.idle_close.delay().get() == 1

    conversation.refresh_from_db()
    assert (conversation.mode, conversation.end_reason) == (Mode.CLOSED, EndReason.IDLE)


def test_a_human_conversation_stays_open_longer_then_closes_with_a_closing_message(
    clock: ModuleType, settings: Any, on_shift: Callable[..., User]
) -> None:
    alice = on_shift("alice", capacity=2)
    asked = receive("转人工", user="c1").message
    conversation = Conversation.objects.get(pk=asked.conversation_id)
    assert (conversation.mode, conversation.assignee) == (Mode.HUMAN, alice)
    clock.advance(600)
    console.agent_reply(conversation_id=conversation.pk, agent=alice, body="您好，请问有什么可以帮您？")

    clock.advance(settings.DESK_IDLE_CLOSE_BOT_S * 2)
    assert services.conversations_close_idle() == 0  # an agent's conversation is not the bot's
    clock.advance(settings.DESK_IDLE_CLOSE_HUMAN_S)
    assert services.conversations_close_idle() == 1

    conversation.refresh_from_db()
    assert (conversation.mode, conversation.end_reason) == (Mode.CLOSED, EndReason.AGENT_RESOLVED)
    *_, closing, rating_asked = Message.objects.filter(conversation=conversation).order_by("id")
    assert (closing.author_kind, closing.body) == (Message.AuthorKind.SYSTEM, settings.DESK_IDLE_CLOSE_HUMAN_TEXT)
    assert rating_asked.answer_meta["notice"] == "csat_ask"  # then the satisfaction question (DESK_CSAT_*)
    assert (closing.answer_meta["notice"], closing.status) == (services.NOTICE_IDLE_CLOSE, Message.Status.DELIVERED)
    assert kinds(conversation.pk)[-1] == ConversationEvent.Kind.CLOSED
    # The agent's seat is free again; the ticket's stint ended with the close.
    assert QueueTicket.objects.get(conversation=conversation).ended_at is not None


def test_a_waiting_customer_is_never_closed_for_idling_and_closing_it_means_abandoned(
    clock: ModuleType, settings: Any, on_shift: Callable[..., User]
) -> None:
    settings.DESK_QUEUE_ABANDON_S = 0  # abandonment off: idling alone closes nothing in the queue
    alice = on_shift("alice", status=AgentStatus.Status.OFFLINE)
    waiting = receive("转人工", user="c1").message  # nobody on shift: it waits
    conversation = Conversation.objects.get(pk=waiting.conversation_id)
    assert conversation.mode == Mode.QUEUED

    clock.advance(settings.DESK_IDLE_CLOSE_HUMAN_S * 2)
    assert services.conversations_close_idle() == 0
    console.conversation_close(conversation_id=conversation.pk, agent=alice)

    conversation.refresh_from_db()
    assert (conversation.mode, conversation.end_reason) == (Mode.CLOSED, EndReason.ABANDONED)
    assert QueueTicket.objects.get(conversation=conversation).ended_at is not None


def test_a_customer_silent_in_the_queue_for_the_abandon_time_is_told_and_the_conversation_ends_abandoned(
    clock: ModuleType, settings: Any, on_shift: Callable[..., User]
) -> None:
    on_shift("alice", status=AgentStatus.Status.OFFLINE)
    waiting = receive("转人工", user="c1").message
    conversation = Conversation.objects.get(pk=waiting.conversation_id)
    assert conversation.mode == Mode.QUEUED

    clock.advance(settings.DESK_QUEUE_ABANDON_S / 2)
    receive("还要等多久？", user="c1")  # still there: the wait's silence counts from this message
    clock.advance(settings.DESK_QUEUE_ABANDON_S - 60)
    assert services.conversations_close_idle() == 0
    clock.advance(120)
    assert services.conversations_close_idle() == 1
    assert services.conversations_close_idle() == 0

    conversation.refresh_from_db()
    assert (conversation.mode, conversation.end_reason) == (Mode.CLOSED, EndReason.ABANDONED)
    last = Message.objects.filter(conversation=conversation).order_by("id").last()
    assert last is not None
    assert (last.author_kind, last.body) == (Message.AuthorKind.SYSTEM, settings.DESK_QUEUE_ABANDON_TEXT)
    assert (last.answer_meta["notice"], last.status) == (services.NOTICE_ABANDONED, Message.Status.DELIVERED)
    assert QueueTicket.objects.get(conversation=conversation).ended_at is not None
    # Nobody served them: no satisfaction question.
    assert not Message.objects.filter(conversation=conversation, answer_meta__notice="csat_ask").exists()


def test_nobody_abandons_the_queue_at_night_the_silence_counts_again_from_the_opening(
    clock: ModuleType, settings: Any, on_shift: Callable[..., User]
) -> None:
    from datetime import timedelta

    from tests.factories import BusinessHoursFactory
    from tests.routing.test_hours import DAILY, later_day, local, travel

    BusinessHoursFactory(daily=DAILY)
    day = later_day()
    travel(clock, local(day, 19))  # queued in hours, nobody on shift; the desk closes at 21:00
    waiting = receive("转人工", user="c1").message
    conversation = Conversation.objects.get(pk=waiting.conversation_id)
    assert conversation.mode == Mode.QUEUED

    travel(clock, local(day, 23))  # four hours silent, but at night
    assert services.conversations_close_idle() == 0
    travel(clock, local(day + timedelta(days=1), 9, 1))  # open again: the night's silence does not count
    assert services.conversations_close_idle() == 0
    clock.advance(settings.DESK_QUEUE_ABANDON_S)  # open that long, and still silent: they have gone
    assert services.conversations_close_idle() == 1
    conversation.refresh_from_db()
    assert conversation.end_reason == EndReason.ABANDONED


def test_the_console_close_records_resolved_by_an_agent(on_shift: Callable[..., User]) -> None:
    alice = on_shift("alice")
    asked = receive("转人工", user="c1").message

    console.conversation_close(conversation_id=asked.conversation_id, agent=alice)

    conversation = Conversation.objects.get(pk=asked.conversation_id)
    assert (conversation.mode, conversation.end_reason) == (Mode.CLOSED, EndReason.AGENT_RESOLVED)
    event = ConversationEvent.objects.filter(conversation=conversation).latest("pk")
    assert (event.kind, event.actor) == (ConversationEvent.Kind.CLOSED, alice)


def test_a_customer_writing_within_the_grace_reopens_the_conversation_with_the_bot(
    clock: ModuleType, settings: Any, on_shift: Callable[..., User]
) -> None:
    alice = on_shift("alice")
    asked = receive("转人工", user="c1").message
    console.conversation_close(conversation_id=asked.conversation_id, agent=alice)

    clock.advance(settings.DESK_REOPEN_GRACE_S - 60)
    again = receive("还有一个问题", user="c1").message

    assert again.conversation_id == asked.conversation_id
    conversation = Conversation.objects.get(pk=again.conversation_id)
    assert (conversation.mode, conversation.assignee, conversation.end_reason) == (Mode.BOT, None, "")
    assert conversation.closed_at is None
    assert kinds(conversation.pk)[-1] == ConversationEvent.Kind.REOPENED
    again.refresh_from_db()
    assert again.status == Message.Status.ANSWERED  # the bot serves it again


def test_after_the_grace_or_a_close_by_the_customer_a_new_conversation_starts(clock: ModuleType, settings: Any) -> None:
    first = receive("你好", user="c1").message
    clock.advance(settings.DESK_IDLE_CLOSE_BOT_S + 1)
    assert services.conversations_close_idle() == 1
    clock.advance(settings.DESK_REOPEN_GRACE_S + 1)

    second = receive("又来了", user="c1").message
    assert second.conversation_id != first.conversation_id
    assert Conversation.objects.get(pk=first.conversation_id).mode == Mode.CLOSED

    spine.conversation_end(conversation_id=second.conversation_id, reason=EndReason.CUSTOMER_CLOSED)
    third = receive("再问一下", user="c1").message  # at once, yet the customer ended the last one
    assert third.conversation_id not in (first.conversation_id, second.conversation_id)
