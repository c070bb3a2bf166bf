"""Which WeChat messages reach the desk, and as whose (workers/wechaty_bridge/rules.py)."""

import pytest

from workers.wechaty_bridge.protocol import Address, OutboxEntry, OutboxMedia
from workers.wechaty_bridge.rules import Incoming, TriggerRules, decide

RULES = TriggerRules()
BOT = ("客服小助手",)


def msg(
    text: str,
    *,
    in_room: bool = False,
    is_self: bool = False,
    mentions: bool = False,
    is_text: bool = True,
    is_media: bool = False,
) -> Incoming:
    return Incoming(
        text=text,
        is_text=is_text,
        is_self=is_self,
        in_room=in_room,
        mentions_self=mentions,
        self_names=BOT,
        is_media=is_media,
    )


def test_it_forwards_every_private_message() -> None:
    decision = decide(msg("  怎么退货？ "), RULES)
    assert (decision.action, decision.reason, decision.text) == ("customer", "private", "怎么退货？")


def test_it_ignores_a_group_message_that_does_not_address_the_bot() -> None:
    assert decide(msg("大家好", in_room=True), RULES).reason == "group_not_addressed"


def test_it_forwards_a_group_mention_without_the_mention() -> None:
    decision = decide(msg("@客服小助手\u2005发货要几天？", in_room=True, mentions=True), RULES)
    assert (decision.action, decision.text) == ("customer", "发货要几天？")


@pytest.mark.parametrize(("text", "expected"), [("!ai 能开发票吗", "能开发票吗"), ("  !ai\t在吗", "在吗")])
def test_it_forwards_a_prefixed_group_message_without_the_prefix(text: str, expected: str) -> None:
    decision = decide(msg(text, in_room=True), RULES)
    assert (decision.action, decision.reason, decision.text) == ("customer", "prefix", expected)


@pytest.mark.parametrize("text", ["!aide 是什么", "说 !ai 你好", "!ai   "])
def test_a_prefix_must_stand_alone_and_carry_a_question(text: str) -> None:
    assert decide(msg(text, in_room=True), RULES).action == "ignore"


def test_prefixes_and_group_chats_are_configurable() -> None:
    rules = TriggerRules(group_prefixes=("/bot",), group_on_mention=False)
    assert decide(msg("/bot 你好", in_room=True), rules).text == "你好"
    assert decide(msg("!ai 你好", in_room=True), rules).action == "ignore"
    assert decide(msg("@客服小助手\u2005你好", in_room=True, mentions=True), rules).action == "ignore"
    assert decide(msg("/bot 你好", in_room=True), TriggerRules(group_chats=False)).reason == "group_off"


def test_the_accounts_own_message_in_a_private_chat_is_a_staff_takeover() -> None:
    decision = decide(msg("我来处理", is_self=True), RULES)
    assert (decision.action, decision.text) == ("staff", "我来处理")
    assert decide(msg("我来处理", is_self=True), TriggerRules(staff_takeover=False)).reason == "own"


def test_the_accounts_own_group_messages_and_non_text_are_ignored() -> None:
    assert decide(msg("@Bob 已发货", in_room=True, is_self=True), RULES).reason == "own"
    assert decide(msg("", is_text=False), RULES).reason == "not_text"


def test_media_reaches_the_desk_from_a_customer_in_a_private_chat_only() -> None:
    decision = decide(msg("", is_text=False, is_media=True), RULES)
    assert (decision.action, decision.reason) == ("customer", "private_media")
    # A file cannot @mention the account: in a group it is chatter, not a question.
    assert decide(msg("", is_text=False, is_media=True, in_room=True), RULES).reason == "group_media"
    # The bridge's own file replies echo back as the account's messages.
    assert decide(msg("", is_text=False, is_media=True, is_self=True), RULES).reason == "own_media"
    assert decide(msg("", is_text=False, is_media=True), TriggerRules(private_chats=False)).reason == "private_off"


def test_addresses_round_trip_through_the_external_id() -> None:
    member = Address(contact_id="wxid_bob", room_id="20001@chatroom")
    assert member.external_id == "room:20001@chatroom/wxid_bob"
    assert Address.parse(member.external_id) == member
    assert Address.parse("wxid_alice") == Address(contact_id="wxid_alice")


def test_an_outbox_entry_survives_serialisation_and_rejects_garbage() -> None:
    entry = OutboxEntry(message_id=7, to="wxid_alice", segments=["你好。", "再见。"])
    assert OutboxEntry.loads(entry.dumps()) == entry
    assert entry.parts == 2
    media = OutboxEntry(
        message_id=8, to="wxid_alice", segments=[], media=OutboxMedia("image", "image.png", "image/png")
    )
    assert OutboxEntry.loads(media.dumps()) == media
    assert media.parts == 1
    with pytest.raises(ValueError, match="segments"):
        OutboxEntry.loads('{"message_id": 1, "to": "x", "segments": "not a list"}')
