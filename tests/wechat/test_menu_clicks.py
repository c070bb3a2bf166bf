"""Menu clicks become customer messages: an Official Account's CLICK and VIEW events and a WeCom 客服
msgmenu item. A key with a MenuReply is answered with its fixed text; any other goes to the bot."""

import time

import pytest
from django.test import Client

from apps.audit.models import AuditLog
from apps.conversations.models import Conversation, Message
from apps.wechat.models import MenuReply, WechatAccount
from peers.fake_wechat import FakeWeChat
from tests.wechat.conftest import CORP_ID, OA_APP_ID
from tests.wechat.signing import kf_event_xml, kf_post, oa_message_xml, oa_post

OPENID = "oMenuUser00000000000000000001"
OPEN_KFID = "wkMenu"
pytestmark = pytest.mark.usefixtures("eager_tasks")


def click(client: Client, *, event: str, key: str, create_time: int, aes: bool = False, tries: int = 1) -> None:
    fields = {"Event": event, "EventKey": key}
    xml = oa_message_xml(openid=OPENID, msg_type="event", create_time=create_time, fields=fields)
    for attempt in range(tries):  # WeChat tries an unanswered callback again, with the same CreateTime
        response = oa_post(client, xml, aes=aes, nonce=f"n{attempt}")
        assert (response.status_code, response.content) == (200, b"success")  # type: ignore[attr-defined]


def inbound() -> Message:
    return Message.objects.get(direction=Message.Direction.INBOUND)


@pytest.mark.parametrize("aes", [False, True], ids=["plain", "safe-mode"])
def test_a_configured_click_is_answered_once_with_its_fixed_reply(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, aes: bool
) -> None:
    MenuReply.objects.create(account=oa_account, key="HOURS", reply="营业时间：每天 9:00-21:00")
    fake_wechat.user_wrote(OPENID)

    now = int(time.time())

    click(client, event="CLICK", key="HOURS", create_time=now, aes=aes, tries=3)

    message = inbound()  # one message for three tries: events have no MsgId, sender + time identify it
    assert message.body == "[菜单] HOURS"
    assert message.channel_message_id == f"{OA_APP_ID}:{OPENID}:{now}"
    assert message.status == Message.Status.ANSWERED
    reply = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert (reply.author_kind, reply.status) == (Message.AuthorKind.BOT, Message.Status.DELIVERED)
    assert reply.answer_meta == {"source": "menu", "menu_key": "HOURS"}
    assert [s.content for s in fake_wechat.sent] == ["营业时间：每天 9:00-21:00"]  # not the echo answerer's
    assert AuditLog.objects.filter(event="bot.answer").count() == 1


def test_an_unconfigured_click_goes_to_the_answerer(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.user_wrote(OPENID)

    click(client, event="CLICK", key="V1001_TODAY_MUSIC", create_time=int(time.time()))

    assert inbound().status == Message.Status.ANSWERED
    [sent] = fake_wechat.sent
    assert "[菜单] V1001_TODAY_MUSIC" in sent.content  # the echo answerer quotes its question


def test_a_view_click_is_stored_with_its_link_and_a_shared_reply_answers_it(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    url = "https://shop.example.com/orders"
    MenuReply.objects.create(account=None, key=url, reply="订单页面已打开，如有问题请直接留言。")
    fake_wechat.user_wrote(OPENID)

    click(client, event="VIEW", key=url, create_time=int(time.time()))

    assert inbound().body == f"[菜单] 打开链接 {url}"
    assert [s.content for s in fake_wechat.sent] == ["订单页面已打开，如有问题请直接留言。"]


def test_an_accounts_own_reply_wins_over_the_shared_one_and_inactive_ones_are_ignored(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    MenuReply.objects.create(account=None, key="CONTACT", reply="共享的回复")
    MenuReply.objects.create(account=oa_account, key="CONTACT", reply="本公众号的回复")
    MenuReply.objects.create(account=oa_account, key="OLD", reply="停用", is_active=False)
    fake_wechat.user_wrote(OPENID)
    now = int(time.time())

    click(client, event="CLICK", key="CONTACT", create_time=now)
    click(client, event="CLICK", key="OLD", create_time=now + 1)

    assert fake_wechat.sent[0].content == "本公众号的回复"
    assert "[菜单] OLD" in fake_wechat.sent[1].content


def test_a_click_while_an_agent_serves_is_left_to_the_agent(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    MenuReply.objects.create(account=oa_account, key="HOURS", reply="营业时间")
    fake_wechat.user_wrote(OPENID)
    click(client, event="CLICK", key="HOURS", create_time=int(time.time()))
    Conversation.objects.update(mode=Conversation.Mode.HUMAN)

    click(client, event="CLICK", key="HOURS", create_time=int(time.time()) + 1)

    second = Message.objects.filter(direction=Message.Direction.INBOUND).order_by("pk").last()
    assert second is not None
    assert second.status == Message.Status.HANDED_OVER
    assert [s.content for s in fake_wechat.sent] == ["营业时间"]


def kf_click(client: Client, fake: FakeWeChat, *, msgid: str, menu_id: str, content: str) -> Message:
    message = {
        "msgid": msgid,
        "open_kfid": OPEN_KFID,
        "external_userid": "wmMenuUser",
        "send_time": int(time.time()),
        "origin": 3,
        "msgtype": "text",
        "text": {"content": content, "menu_id": menu_id},
    }
    fake.add_kf_messages(OPEN_KFID, [message])
    kf_post(client, kf_event_xml(open_kfid=OPEN_KFID, callback_token=f"tok-{msgid}"))
    return Message.objects.get(channel_message_id=f"{CORP_ID}:{msgid}")


def test_kf_menu_items_are_answered_by_their_reply_or_by_the_bot(
    client: Client, kf_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    MenuReply.objects.create(account=kf_account, key="faq-1", reply="退货请在订单页申请，7 天内免费。")

    configured = kf_click(client, fake_wechat, msgid="m1", menu_id="faq-1", content="怎么退货")
    other = kf_click(client, fake_wechat, msgid="m2", menu_id="faq-2", content="运费多少")

    assert (configured.body, other.body) == ("怎么退货", "运费多少")
    assert fake_wechat.sent[0].content == "退货请在订单页申请，7 天内免费。"
    assert "运费多少" in fake_wechat.sent[1].content
    kf_post(client, kf_event_xml(open_kfid=OPEN_KFID, callback_token="again"))  # a page read again
    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == 2
    assert len(fake_wechat.sent) == 2
