"""Who serves a conversation: takeover, hand-back, assignment, closing and the customer asking
for a human, through the real spine (Celery eager, the simulator channel)."""

import threading
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from types import ModuleType
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import close_old_connections

from apps.console import services as console
from apps.conversations.models import Conversation, ConversationEvent, Message
from apps.moderation import services as moderation
from apps.moderation.models import Term
from tests.factories import receive
from tests.support.human_request import example_detector

pytestmark = pytest.mark.usefixtures("eager_tasks")


def bot_replies(conversation: Conversation) -> list[str]:
    return list(conversation.messages.filter(author_kind="bot").order_by("id").values_list("body", flat=True))


def test_the_bot_stays_silent_in_human_mode_and_answers_again_after_hand_back(agent: User) -> None:
    first = receive("你好").message
    conversation = first.conversation
    assert len(bot_replies(conversation)) == 1

    console.conversation_take_over(conversation_id=conversation.pk, agent=agent)
    while_human = receive("还在吗").message
    while_human.refresh_from_db()  # as the spine left it

    assert while_human.status == Message.Status.HANDED_OVER
    assert len(bot_replies(conversation)) == 1

    console.conversation_hand_back(conversation_id=conversation.pk, agent=agent)
    after = receive("再问一下").message
    after.refresh_from_db()

    assert after.status == Message.Status.ANSWERED
    assert len(bot_replies(conversation)) == 2
    kinds = list(ConversationEvent.objects.filter(conversation=conversation).values_list("kind", flat=True))
    assert kinds == ["taken_over", "handed_back"]


def test_a_second_agent_cannot_take_over_and_learns_who_has_it(make_agent: Callable[[str], User]) -> None:
    alice, bob = make_agent("alice"), make_agent("bob")
    conversation = receive("你好").message.conversation
    console.conversation_take_over(conversation_id=conversation.pk, agent=alice)

    with pytest.raises(console.ConversationTaken) as taken:
        console.conversation_take_over(conversation_id=conversation.pk, agent=bob)

    assert taken.value.holder == "alice"
    conversation.refresh_from_db()
    assert conversation.assignee == alice


def test_two_agents_racing_to_take_over_produce_exactly_one_winner(make_agent: Callable[[str], User]) -> None:
    agents = [make_agent(f"agent{i}") for i in range(4)]
    conversation = receive("你好").message.conversation
    barrier = threading.Barrier(len(agents))
    won: list[str] = []
    lost: list[str] = []

    def race(agent: User) -> None:
        try:
            barrier.wait()
            console.conversation_take_over(conversation_id=conversation.pk, agent=agent)
            won.append(agent.username)
        except console.ConversationTaken as exc:
            lost.append(exc.holder)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=race, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(won) == 1
    assert lost == [won[0]] * (len(agents) - 1)
    conversation.refresh_from_db()
    assert conversation.assignee is not None
    assert conversation.assignee.username == won[0]
    assert ConversationEvent.objects.filter(conversation=conversation, kind="taken_over").count() == 1


@pytest.fixture(params=["phrases", "examples"])
def detector(request: pytest.FixtureRequest, settings: Any, transactional_db: None) -> Iterator[str]:
    """The phrase list alone (the tests' default), or the default detector over the shipped examples."""
    with example_detector(settings) if request.param == "examples" else nullcontext():
        yield request.param


@pytest.fixture
def examples(settings: Any, transactional_db: None) -> Iterator[None]:
    with example_detector(settings):
        yield


def test_a_customer_asking_for_a_human_is_queued_and_told(detector: str) -> None:
    message = receive("我要转 人工").message
    message.refresh_from_db()
    conversation = Conversation.objects.get(pk=message.conversation_id)

    assert conversation.mode == Conversation.Mode.QUEUED
    assert message.status == Message.Status.HANDED_OVER
    told = conversation.messages.get(author_kind="system")
    assert told.body == settings.DESK_HUMAN_REQUEST_REPLY
    assert told.status == Message.Status.DELIVERED
    assert bot_replies(conversation) == []
    assert ConversationEvent.objects.get(conversation=conversation).kind == "requested_human"


def test_configured_phrases_also_ask_for_a_human(settings: Any, detector: str) -> None:
    # The phrase list alone takes a message containing a phrase; the default detector one that is the
    # phrase, give or take punctuation (the classifier alone leaves "呼叫小二！" to the bot).
    phrase, text = ("真人", "请给我一个真人") if detector == "phrases" else ("呼叫小二", "呼叫小二！")
    settings.DESK_HUMAN_REQUEST_PHRASES = [phrase]

    message = receive(text).message

    assert Conversation.objects.get(pk=message.conversation_id).mode == Conversation.Mode.QUEUED


@pytest.mark.usefixtures("examples")
def test_asking_for_a_person_in_other_words_queues_the_conversation() -> None:
    message = receive("帮我接一下真人").message
    message.refresh_from_db()
    conversation = Conversation.objects.get(pk=message.conversation_id)

    assert conversation.mode == Conversation.Mode.QUEUED
    assert message.status == Message.Status.HANDED_OVER
    assert conversation.messages.get(author_kind="system").body == settings.DESK_HUMAN_REQUEST_REPLY
    assert bot_replies(conversation) == []


@pytest.mark.usefixtures("examples")
def test_a_question_about_staff_goes_to_the_answerer() -> None:
    message = receive("你们人工客服几点下班？").message
    message.refresh_from_db()
    conversation = Conversation.objects.get(pk=message.conversation_id)

    assert conversation.mode == Conversation.Mode.BOT
    assert message.status == Message.Status.ANSWERED
    assert len(bot_replies(conversation)) == 1
    assert not conversation.messages.filter(author_kind="system").exists()


def test_an_agent_reply_is_moderated_and_delivered_through_the_channel(agent: User) -> None:
    moderation.term_save(term=Term(text="傻逼", category="abuse", action="mask"))
    moderation.term_save(term=Term(text="代开发票", category="fraud", action="block"))
    waiting = receive("转人工").message
    conversation = waiting.conversation
    console.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    with pytest.raises(console.ReplyBlocked):
        console.agent_reply(conversation_id=conversation.pk, agent=agent, body="可以代开发票")
    reply = console.agent_reply(conversation_id=conversation.pk, agent=agent, body="别说傻逼，我来帮您")

    reply.refresh_from_db()
    assert reply.author == agent
    assert reply.author_kind == Message.AuthorKind.AGENT
    assert reply.body == "别说**，我来帮您"
    assert reply.status == Message.Status.DELIVERED
    waiting.refresh_from_db()
    assert waiting.status == Message.Status.ANSWERED
    assert not any("代开发票" in m.body for m in conversation.messages.all())  # bodies are encrypted: check in Python


def test_only_the_agent_holding_the_conversation_may_reply(make_agent: Callable[[str], User]) -> None:
    alice, bob = make_agent("alice"), make_agent("bob")
    conversation = receive("转人工").message.conversation

    with pytest.raises(console.HandoffError):
        console.agent_reply(conversation_id=conversation.pk, agent=alice, body="您好")
    console.conversation_take_over(conversation_id=conversation.pk, agent=alice)
    with pytest.raises(console.HandoffError):
        console.agent_reply(conversation_id=conversation.pk, agent=bob, body="您好")


def test_assigning_and_closing(make_agent: Callable[[str], User], outsider: User, clock: ModuleType) -> None:
    alice, bob = make_agent("alice"), make_agent("bob")
    conversation = receive("转人工").message.conversation

    with pytest.raises(console.HandoffError):
        console.conversation_assign(conversation_id=conversation.pk, agent=alice, assignee_id=outsider.pk)
    console.conversation_assign(conversation_id=conversation.pk, agent=alice, assignee_id=bob.pk)
    conversation.refresh_from_db()
    assert (conversation.mode, conversation.assignee) == (Conversation.Mode.HUMAN, bob)

    console.conversation_close(conversation_id=conversation.pk, agent=bob)
    conversation.refresh_from_db()
    assert conversation.mode == Conversation.Mode.CLOSED
    assert conversation.closed_at is not None
    assert conversation.end_reason == Conversation.EndReason.AGENT_RESOLVED
    # The customer's next message after the reopen grace opens a new conversation, served by the bot.
    clock.advance(settings.DESK_REOPEN_GRACE_S + 1)
    again = receive("又来了").message
    again.refresh_from_db()
    assert again.conversation_id != conversation.pk
    assert again.status == Message.Status.ANSWERED
