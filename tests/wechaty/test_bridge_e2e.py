"""End to end: the real Wechaty SDK in the bridge process, the test puppet, the desk (uvicorn
and a Celery worker) on Postgres and Redis."""

import time
from collections.abc import Callable

import pytest

from apps.conversations.models import Conversation, Message
from tests.support.waiting import wait_for
from tests.wechaty.conftest import Bridge
from tests.wechaty.puppet_server import TestPuppet

pytestmark = [pytest.mark.live, pytest.mark.timeout(180)]

ALICE = "wxid_alice"
BOB = "wxid_bob"
ROOM = "20001@chatroom"


@pytest.fixture
def desk_and_bridge(
    asgi_server: str,
    celery_worker_process: Callable[..., object],
    start_bridge: Callable[..., Bridge],
    bridge_name: str,
    wechaty_redis_url: str,
    puppet: TestPuppet,
) -> Bridge:
    puppet.add_contact(ALICE, "Alice")
    puppet.add_contact(BOB, "Bob")
    puppet.add_room(ROOM, "售后群", [ALICE, BOB])
    celery_worker_process(
        DESK_MODERATOR="apps.conversations.placeholders.AllowAllModerator",
        WECHATY_BRIDGE_NAME=bridge_name,
        WECHATY_REDIS_URL=wechaty_redis_url,
    )
    bridge = start_bridge(asgi_server)
    bridge.wait_logged_in()
    return bridge


def _settle(seconds: float = 2.0) -> None:
    """Give a wrongly repeated answer the time to show up before asserting there is none."""
    time.sleep(seconds)


def test_it_answers_a_private_message_once_and_only_addressed_group_messages(
    desk_and_bridge: Bridge, puppet: TestPuppet
) -> None:
    first = puppet.customer_says(ALICE, "你好，请问怎么退货？")
    wait_for(lambda: len(puppet.sent_to(ALICE)) == 1, timeout=30, what="the private answer")
    assert "怎么退货" in puppet.sent_to(ALICE)[0]

    # The same event again (puppets do redeliver): still one answer.
    puppet.redeliver(first)
    ignored = puppet.member_says(ROOM, BOB, "大家好，今天天气不错")
    mentioned = puppet.member_says(ROOM, BOB, "发货要几天？", mention_self=True)
    prefixed = puppet.member_says(ROOM, BOB, "!ai 能开发票吗")
    wait_for(lambda: len(puppet.sent_to(ROOM)) == 2, timeout=30, what="the two group answers")
    _settle()

    assert len(puppet.sent_to(ALICE)) == 1
    room_replies = puppet.sent_to(ROOM)
    assert len(room_replies) == 2
    assert all(reply.startswith("@Bob\u2005") for reply in room_replies)
    assert {s.mention_ids for s in puppet.sends() if s.conversation_id == ROOM} == {(BOB,)}

    stored = dict(Message.objects.filter(direction=Message.Direction.INBOUND).values_list("channel_message_id", "body"))
    assert stored == {first: "你好，请问怎么退货？", mentioned: "发货要几天？", prefixed: "能开发票吗"}
    assert ignored not in stored
    # The bridge's own replies come back as the account's messages: not a staff takeover.
    assert set(Conversation.objects.values_list("mode", flat=True)) == {Conversation.Mode.BOT}
    counters = desk_and_bridge.counters()
    assert counters["ignored:group_not_addressed"] == 1
    assert counters["ignored:own_echo"] == 1
    assert counters["ignored:own"] == 2
    assert "wechaty_bridge_sent_total 3" in desk_and_bridge.metrics_text()


def test_it_reconnects_after_the_puppet_drops_the_stream_and_loses_nothing(
    desk_and_bridge: Bridge, puppet: TestPuppet
) -> None:
    first = puppet.customer_says(ALICE, "第一条消息")
    wait_for(lambda: len(puppet.sent_to(ALICE)) == 1, timeout=30, what="the first answer")

    puppet.drop_stream()
    wait_for(lambda: desk_and_bridge.health()[0] == 503, timeout=15, what="the bridge to notice the drop")
    during = puppet.customer_says(ALICE, "断线期间发的消息")
    puppet.redeliver(first)  # after the reconnect the SDK has forgotten it: the desk dedupes
    time.sleep(1.5)  # a few refused reconnects
    puppet.resume()

    desk_and_bridge.wait_logged_in()
    wait_for(lambda: len(puppet.sent_to(ALICE)) == 2, timeout=30, what="the answer to the message sent offline")
    _settle()

    replies = puppet.sent_to(ALICE)
    assert len(replies) == 2
    assert "断线期间发的消息" in replies[1]
    assert Message.objects.filter(channel_message_id=during, status=Message.Status.ANSWERED).exists()
    counters = desk_and_bridge.counters()
    assert counters["reconnects"] >= 1
    assert counters["logins"] >= 2
    assert counters["forwarded_duplicate"] == 1
    assert puppet.counts()["event_streams"] >= 2


def test_a_message_typed_on_the_phone_hands_the_conversation_to_a_human(
    desk_and_bridge: Bridge, puppet: TestPuppet
) -> None:
    puppet.customer_says(ALICE, "在吗？")
    wait_for(lambda: len(puppet.sent_to(ALICE)) == 1, timeout=30, what="the bot's answer")

    typed = puppet.staff_says(ALICE, "您好，我是客服小王，这个问题我来处理。")
    wait_for(
        lambda: Conversation.objects.filter(mode=Conversation.Mode.HUMAN).exists(),
        timeout=30,
        what="the conversation to go to a human",
    )
    agent_message = Message.objects.get(channel_message_id=typed)
    assert agent_message.author_kind == Message.AuthorKind.AGENT
    assert agent_message.status == Message.Status.DELIVERED

    later = puppet.customer_says(ALICE, "好的，谢谢")
    wait_for(
        lambda: Message.objects.filter(channel_message_id=later, status=Message.Status.HANDED_OVER).exists(),
        timeout=30,
        what="the next customer message to wait for the human",
    )
    _settle()
    assert len(puppet.sent_to(ALICE)) == 1
