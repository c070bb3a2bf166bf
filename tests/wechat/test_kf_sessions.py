"""WeCom 客服 as WeCom behaves: session states, servicers, welcome and closing codes, errors as data.

The fake WeCom API (peers/fake_wecom_kf.py) refuses what WeCom refuses: kf/send_msg outside states
0/1, moves WeCom does not allow, a used or late event code. Callbacks are signed with wechatpy.
"""

from types import ModuleType
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation

from apps.console import services as console
from apps.conversations.models import Conversation, ConversationEvent, Message
from apps.wechat import client as wechat_client
from apps.wechat.kf.adapter import HAND_TO_WECOM, POOL, KfAdapter
from apps.wechat.models import KfCursor, WechatAccount, WechatContact, WecomServicer
from peers.fake_wechat import FakeWeChat
from tests.wechat.signing import kf_event_xml, kf_post
from tests.wechat.test_kf import OPEN_KFID, customer_messages

pytestmark = pytest.mark.usefixtures("eager_tasks")
USER = "wmUser0000"


def sync(client: Client) -> None:
    kf_post(client, kf_event_xml(open_kfid=OPEN_KFID, callback_token="T"))


def customer_writes(client: Client, fake: FakeWeChat, text: str, *, first: int) -> None:
    (message,) = customer_messages(1, users=1, first=first)
    message["external_userid"] = USER
    message["text"] = {"content": text}
    fake.add_kf_messages(OPEN_KFID, [message])
    sync(client)


def kf_sent(fake: FakeWeChat) -> list[str]:
    return [s.content for s in fake.sent if s.api == "kf"]


@pytest.fixture
def agent(transactional_db: None) -> User:
    return User.objects.create_user("alice", is_staff=True)


@pytest.fixture
def conversation(client: Client, kf_account: WechatAccount, fake_wechat: FakeWeChat) -> Conversation:
    customer_writes(client, fake_wechat, "你好", first=0)
    return Conversation.objects.get()


def test_a_console_take_over_keeps_the_session_with_the_desk_and_the_agent_reply_is_delivered(
    client: Client, fake_wechat: FakeWeChat, conversation: Conversation, agent: User
) -> None:
    console.conversation_take_over(conversation_id=conversation.pk, agent=agent)
    reply = console.agent_reply(conversation_id=conversation.pk, agent=agent, body="您好，我是客服小王")

    assert Message.objects.get(pk=reply.pk).status == Message.Status.DELIVERED
    assert kf_sent(fake_wechat)[-1] == "您好，我是客服小王"
    assert fake_wechat.kf.session(OPEN_KFID, USER).state == 1
    assert [state["service_state"] for state in fake_wechat.states] == [1]


def test_a_hand_to_a_wecom_servicer_mirrors_their_messages_and_silences_the_bot(
    client: Client, fake_wechat: FakeWeChat, conversation: Conversation, agent: User
) -> None:
    zhang = User.objects.create_user("zhang", is_staff=True)
    WecomServicer.objects.create(user=zhang, userid="zhangsan")
    answered_before = len(kf_sent(fake_wechat))

    console.channel_act(conversation_id=conversation.pk, agent=agent, action=HAND_TO_WECOM, value="zhangsan")
    fake_wechat.add_kf_messages(OPEN_KFID, [fake_wechat.kf.servicer_message(OPEN_KFID, USER, "zhangsan", "我来帮您")])
    customer_writes(client, fake_wechat, "好的，谢谢", first=1)

    conversation.refresh_from_db()
    assert fake_wechat.kf.session(OPEN_KFID, USER).state == 3
    assert (conversation.mode, conversation.assignee_id) == (Conversation.Mode.HUMAN, zhang.pk)
    mirrored = conversation.messages.get(author_kind=Message.AuthorKind.AGENT)
    assert (mirrored.body, mirrored.author_id, mirrored.status) == ("我来帮您", zhang.pk, Message.Status.DELIVERED)
    latest = conversation.messages.filter(direction="in").latest("id")
    assert latest.status == Message.Status.HANDED_OVER
    assert len(kf_sent(fake_wechat)) == answered_before  # the bot never wrote in state 3
    assert conversation.events.filter(kind=ConversationEvent.Kind.SERVED_IN_CHANNEL, actor=agent).exists()


def test_handing_to_wecom_s_pool_is_state_2_and_cannot_come_back_to_the_desk(
    client: Client, fake_wechat: FakeWeChat, conversation: Conversation, agent: User
) -> None:
    console.channel_act(conversation_id=conversation.pk, agent=agent, action=HAND_TO_WECOM, value=POOL)

    assert fake_wechat.kf.session(OPEN_KFID, USER).state == 2
    # WeCom refuses 2 -> 1: a console take-over leaves the session where it is, and the desk may not write.
    console.conversation_take_over(conversation_id=conversation.pk, agent=agent)
    reply = console.agent_reply(conversation_id=conversation.pk, agent=agent, body="我来")
    assert fake_wechat.kf.session(OPEN_KFID, USER).state == 2
    assert Message.objects.get(pk=reply.pk).status == Message.Status.FAILED
    with translation.override("en"):
        shown = KfAdapter().state(conversation_id=conversation.pk)
    assert shown.can_send is False
    assert "pool" in shown.label


def test_closing_ends_the_session_and_sends_the_satisfaction_menu_once(
    client: Client, fake_wechat: FakeWeChat, conversation: Conversation, agent: User, kf_account: WechatAccount
) -> None:
    kf_account.kf_closing_text = "感谢您的咨询"
    kf_account.kf_closing_rating = True
    kf_account.save()

    console.conversation_close(conversation_id=conversation.pk, agent=agent)
    # The hook task run again (a retry, the sweeper): the session has ended, nothing more is sent.
    from apps.conversations.tasks import channel_conversation_changed

    channel_conversation_changed.apply(args=(conversation.pk, "closed", None))

    assert fake_wechat.kf.session(OPEN_KFID, USER).state == 4
    (closing,) = fake_wechat.kf.event_replies
    assert closing["why"] == "ended"
    assert closing["msgmenu"]["head_content"] == "感谢您的咨询"
    assert [item["click"]["id"] for item in closing["msgmenu"]["list"]] == [f"csat-{n}" for n in (5, 4, 3, 2, 1)]


def test_the_welcome_is_sent_once_within_20_s_and_never_for_a_re_read_page(
    client: Client, fake_wechat: FakeWeChat, kf_account: WechatAccount
) -> None:
    kf_account.kf_welcome_text = "您好，请问有什么可以帮您？"
    kf_account.kf_welcome_menu = "怎么退货？\n几天发货？"
    kf_account.save()
    fake_wechat.add_kf_messages(
        OPEN_KFID, [fake_wechat.kf.enter_session(OPEN_KFID, USER, scene="ad", scene_param="x1")]
    )

    sync(client)
    KfCursor.objects.update(cursor="")  # a crash before the cursor moved: the page is read again
    sync(client)

    (welcome,) = fake_wechat.kf.event_replies
    assert welcome["msgmenu"]["head_content"] == "您好，请问有什么可以帮您？"
    assert [item["click"]["content"] for item in welcome["msgmenu"]["list"]] == ["怎么退货？", "几天发货？"]
    contact = WechatContact.objects.get()
    assert (contact.kf_scene, contact.kf_scene_param) == ("ad", "x1")


def test_a_welcome_code_read_after_20_s_is_not_used(
    client: Client, fake_wechat: FakeWeChat, kf_account: WechatAccount
) -> None:
    kf_account.kf_welcome_text = "您好"
    kf_account.save()
    fake_wechat.kf.clock_offset = -30  # the event happened 30 s ago
    fake_wechat.add_kf_messages(OPEN_KFID, [fake_wechat.kf.enter_session(OPEN_KFID, USER)])
    fake_wechat.kf.clock_offset = 0

    sync(client)

    assert fake_wechat.kf.event_replies == []
    assert fake_wechat.kf.used_codes == set()


def test_wecom_s_own_session_changes_move_the_desk_s_conversation_and_it_comes_back_after_the_end(
    client: Client, fake_wechat: FakeWeChat, conversation: Conversation, kf_account: WechatAccount, clock: ModuleType
) -> None:
    zhang = User.objects.create_user("zhang", is_staff=True)
    WecomServicer.objects.create(user=zhang, userid="zhangsan")

    fake_wechat.add_kf_messages(OPEN_KFID, [fake_wechat.kf.servicer_takes(OPEN_KFID, USER, "zhangsan")])
    sync(client)
    conversation.refresh_from_db()
    assert (conversation.mode, conversation.assignee_id) == (Conversation.Mode.HUMAN, zhang.pk)

    fake_wechat.add_kf_messages(OPEN_KFID, [fake_wechat.kf.servicer_ends(OPEN_KFID, USER)])
    sync(client)
    conversation.refresh_from_db()
    assert conversation.mode == Conversation.Mode.CLOSED
    assert [reply["why"] for reply in fake_wechat.kf.event_replies] == ["ended"]  # the closing text
    assert conversation.end_reason == Conversation.EndReason.AGENT_RESOLVED  # a servicer held it

    clock.advance(settings.DESK_REOPEN_GRACE_S + 1)  # sooner, the customer would get it back
    customer_writes(client, fake_wechat, "我还有个问题", first=5)
    fresh = Conversation.objects.exclude(pk=conversation.pk).get()
    assert fresh.mode == Conversation.Mode.BOT
    assert fresh.messages.filter(author_kind=Message.AuthorKind.BOT, status=Message.Status.DELIVERED).exists()


def test_a_send_wecom_refuses_for_the_session_state_is_handed_to_a_person_with_its_code(
    client: Client, fake_wechat: FakeWeChat, conversation: Conversation
) -> None:
    # A WeCom servicer took the session, and the desk has not seen the event yet.
    fake_wechat.kf.servicer_takes(OPEN_KFID, USER, "lisi")

    customer_writes(client, fake_wechat, "在吗", first=1)

    reply = Message.objects.filter(direction="out").latest("id")
    assert reply.status == Message.Status.FAILED
    assert "95018" in reply.error
    conversation.refresh_from_db()
    assert conversation.mode == Conversation.Mode.QUEUED
    assert conversation.events.filter(kind=ConversationEvent.Kind.CHANNEL_REFUSED).exists()
    # The mirror was wrong: it was dropped, and the hand-over's state check asked WeCom.
    contact = WechatContact.objects.get()
    assert (contact.kf_state, contact.kf_servicer_userid) == (3, "lisi")


@pytest.mark.parametrize(
    ("errcode", "outcome"),
    [
        (-1, "retry"),
        (45009, "retry"),
        (42001, "refresh_token"),
        (40001, "refresh_token"),
        (45015, "hand_over"),
        (45047, "hand_over"),
        (95001, "hand_over"),
        (95002, "hand_over"),
        (95018, "hand_over"),
        (95013, "hand_over"),
        (40003, "give_up"),
        (43004, "give_up"),
        (46004, "give_up"),
        (45002, "give_up"),
        (95007, "give_up"),
    ],
)
def test_every_error_code_has_one_outcome(errcode: int, outcome: str) -> None:
    assert wechat_client.errcode_outcome(errcode) == outcome


def test_an_invalid_user_gives_up_with_the_customer_untouched_and_a_closed_window_hands_over(
    client: Client, fake_wechat: FakeWeChat, conversation: Conversation, agent: User, monkeypatch: Any
) -> None:
    from peers import fake_wechat as fake_module

    answers = iter([{"errcode": 40003, "errmsg": "invalid openid"}])
    real = fake_module.FakeWeChat._send

    def once_invalid(self: FakeWeChat, sent: Any) -> dict[str, Any]:
        return next(answers, None) or real(self, sent)

    monkeypatch.setattr(fake_module.FakeWeChat, "_send", once_invalid)
    customer_writes(client, fake_wechat, "第一句", first=1)
    given_up = Message.objects.filter(direction="out").latest("id")
    conversation.refresh_from_db()
    assert given_up.status == Message.Status.FAILED
    assert "40003" in given_up.error
    assert conversation.mode == Conversation.Mode.BOT  # nothing a person could do: left as it was

    fake_wechat.budget = 0  # every reply now answered 45047 (the window's replies used up)
    customer_writes(client, fake_wechat, "第二句", first=2)
    conversation.refresh_from_db()
    assert conversation.mode == Conversation.Mode.QUEUED
