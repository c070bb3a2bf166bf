"""The spine, run synchronously: receive -> process -> reply -> deliver."""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from apps.conversations import selectors, services
from apps.conversations.models import Conversation, Message
from tests.factories import receive

Status = Message.Status


def replies_to(message: Message) -> list[Message]:
    return list(Message.objects.filter(reply_to=message))


@pytest.mark.usefixtures("eager_tasks")
class TestSpine:
    def test_a_message_is_stored_answered_and_delivered(self) -> None:
        received = receive("你好")

        message = Message.objects.get(pk=received.message.pk)
        (reply,) = replies_to(message)
        assert received.created
        assert message.status == Status.ANSWERED
        assert message.attempts == 1
        assert reply.status == Status.DELIVERED
        assert reply.author_kind == Message.AuthorKind.BOT
        assert "你好" in reply.body
        assert reply.delivered_at is not None
        assert message.answered_at is not None

    def test_a_message_delivered_twice_with_the_same_channel_id_is_stored_and_answered_once(self) -> None:
        first = receive(message_id="wx-1")
        second = receive(message_id="wx-1")

        assert first.created
        assert not second.created
        assert second.message.pk == first.message.pk
        assert Message.objects.filter(direction="in").count() == 1
        assert Message.objects.filter(direction="out").count() == 1

    def test_reprocessing_an_answered_message_changes_nothing(self) -> None:
        received = receive()
        services.inbound_process(message_id=received.message.pk)
        services.message_deliver(message_id=replies_to(received.message)[0].pk)

        assert Message.objects.filter(direction="out").count() == 1
        assert Message.objects.get(pk=received.message.pk).attempts == 1

    def test_messages_of_one_customer_share_one_open_conversation(self) -> None:
        receive("第一句", message_id="wx-1")
        receive("第二句", message_id="wx-2")
        assert Conversation.objects.count() == 1

    def test_the_bot_stays_silent_while_a_human_has_the_conversation(self) -> None:
        first = receive("第一句", message_id="wx-1")
        Conversation.objects.filter(pk=first.message.conversation_id).update(mode=Conversation.Mode.HUMAN)

        second = receive("我要找人工", message_id="wx-2")

        assert Message.objects.get(pk=second.message.pk).status == Status.HANDED_OVER
        assert replies_to(second.message) == []

    def test_an_unavailable_answerer_tells_the_customer_and_queues_a_human(
        self, use_answerer: Callable[[str], None], settings: Any
    ) -> None:
        # No patience: the outage outlasts it at once (test_answer_patience.py waits one out).
        settings.DESK_ANSWER_PATIENCE_SECONDS = 0
        use_answerer("tests.support.answerers.UnavailableAnswerer")

        received = receive()

        message = Message.objects.select_related("conversation").get(pk=received.message.pk)
        (reply,) = replies_to(message)
        assert message.status == Status.FAILED
        assert message.conversation.mode == Conversation.Mode.QUEUED
        assert reply.author_kind == Message.AuthorKind.SYSTEM
        assert reply.body == "您好，人工客服稍后回复您，请稍候。"
        assert reply.status == Status.DELIVERED

    def test_the_answerer_gets_the_last_turns_and_reasoning_is_kept_but_not_sent(
        self, use_answerer: Callable[[str], None]
    ) -> None:
        use_answerer("tests.support.answerers.ContextEchoAnswerer")
        receive("一", message_id="wx-1")
        received = receive("二", message_id="wx-2")

        (reply,) = replies_to(received.message)
        assert reply.body.startswith("[customer:一 | assistant:")
        assert reply.body.endswith("-> 二")
        assert reply.reasoning == "internal chain of thought"
        assert "chain of thought" not in reply.body


@pytest.mark.django_db
def test_conversation_context_is_the_last_n_turns_oldest_first() -> None:
    for i in range(8):
        received = receive(f"q{i}", message_id=f"wx-{i}")
        services.conversation_reply(
            conversation=received.message.conversation, body=f"a{i}", author_kind="bot", reply_to=received.message
        )
    conversation = Conversation.objects.get()

    turns = selectors.conversation_context(conversation=conversation, turns=3)

    assert [t.text for t in turns] == ["q5", "a5", "q6", "a6", "q7", "a7"]
    assert [t.role for t in turns[:2]] == ["customer", "assistant"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_message_store_it_once() -> None:
    results: list[services.Received] = []
    barrier = threading.Barrier(4)

    def deliver_once() -> None:
        barrier.wait()
        try:
            results.append(receive("同一条", message_id="wx-race", user="cust-race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 4
    assert sum(r.created for r in results) == 1
    assert len({r.message.pk for r in results}) == 1
    assert Message.objects.count() == 1
    assert Conversation.objects.count() == 1
