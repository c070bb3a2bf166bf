"""Satisfaction (CSAT) after a close, on each channel as the customer sees it: an Official Account
and the simulator ask in a text message and take a typed 1-5, WeCom 客服 asks with a menu on the
end's event code and takes the click. The answer is stored per conversation and agent, thanked once,
and is neither a question for the bot nor a reopen. The desk's clock is moved with ``clock``."""

import time
from types import ModuleType
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.console import services as console
from apps.conversations import services as spine
from apps.conversations.models import Conversation, Message, Satisfaction
from apps.conversations.services import rating_parse
from apps.wechat.models import WechatAccount
from peers.fake_wechat import FakeWeChat
from tests.wechat.conftest import CORP_ID
from tests.wechat.signing import kf_event_xml, kf_post, oa_post, oa_text_xml

pytestmark = pytest.mark.usefixtures("eager_tasks")
OPENID = "oCsatUser0000000000000000001"
SIMULATOR_URL = "/api/simulator/messages"
SIM_CUSTOMER = "sim0csat000001"
OPEN_KFID = "wkCsat"
KF_USER = "wmCsatUser"
ASK = "本次服务已结束，请为我们的服务打分：回复 1-5（5 为非常满意），也可以在分数后附上您的意见。"
THANKS = "感谢您的评价，祝您生活愉快！"


@pytest.fixture
def agent(transactional_db: None) -> User:
    return User.objects.create_user("alice", is_staff=True)


def resolve_by(agent: User, conversation: Conversation) -> None:
    console.conversation_take_over(conversation_id=conversation.pk, agent=agent)
    console.agent_reply(conversation_id=conversation.pk, agent=agent, body="已为您处理好了")
    console.conversation_close(conversation_id=conversation.pk, agent=agent)


def oa_says(client: Client, text: str, msg_id: str) -> None:
    response = oa_post(client, oa_text_xml(openid=OPENID, msg_id=msg_id, content=text))
    assert response.status_code == 200  # type: ignore[attr-defined]


def sim_says(client: Client, text: str, client_message_id: str) -> None:
    payload = {"customer_id": SIM_CUSTOMER, "client_message_id": client_message_id, "display_name": "王五"}
    payload["text"] = text
    assert client.post(SIMULATOR_URL, payload, content_type="application/json").status_code == 202


def bot_replies() -> int:
    return Message.objects.filter(author_kind=Message.AuthorKind.BOT).count()


@pytest.mark.parametrize(
    ("text", "menu_key", "expected"),
    [
        ("5", "", (5, "")),
        ("５", "", (5, "")),
        ("五", "", (5, "")),
        ("5分 很好", "", (5, "很好")),
        ("4，物流有点慢。", "", (4, "物流有点慢")),
        ("非常满意", "", (5, "")),
        ("一般", "", (3, "")),
        ("", "csat-2", (2, "")),
        ("3个问题想问", "", None),
        ("12", "", None),
        ("6", "", None),
        ("一般什么时候发货", "", None),
        ("5 非常满意", "faq-1", None),
    ],
)
def test_what_reads_as_a_rating(text: str, menu_key: str, expected: tuple[int, str] | None) -> None:
    rating = rating_parse(text=text, menu_key=menu_key)
    assert (None if rating is None else (rating.score, rating.comment)) == expected


def test_an_official_account_customer_rates_the_agent_by_typing_a_score(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, agent: User, clock: ModuleType
) -> None:
    fake_wechat.user_wrote(OPENID)
    oa_says(client, "我的订单到哪了？", "100001")
    conversation = Conversation.objects.get()
    resolve_by(agent, conversation)
    assert fake_wechat.sent[-1].content == ASK
    answered_by_bot = bot_replies()

    clock.advance(60)  # inside the reopen grace: a rating still reopens nothing
    oa_says(client, "5 服务很好", "100002")

    rating = Satisfaction.objects.get()
    assert (rating.conversation_id, rating.agent_id, rating.channel) == (conversation.pk, agent.pk, "official_account")
    assert (rating.score, rating.comment, rating.via) == (5, "服务很好", Satisfaction.Via.MESSAGE)
    assert rating.answered_at is not None
    assert rating.asked_at is not None
    assert rating.answer is not None
    assert rating.answer.status == Message.Status.ANSWERED
    assert bot_replies() == answered_by_bot  # not a question for the bot
    assert [s.content for s in fake_wechat.sent][-2:] == [ASK, THANKS]
    conversation.refresh_from_db()
    assert conversation.mode == Conversation.Mode.CLOSED
    assert Conversation.objects.count() == 1

    oa_says(client, "5", "100003")  # thanked once: a second "5" is an ordinary message
    assert [s.content for s in fake_wechat.sent].count(THANKS) == 1
    assert Satisfaction.objects.get().comment == "服务很好"


def test_a_simulator_customer_rates_a_bot_resolved_conversation_when_asked_after_all(
    client: Client, settings: Any, clock: ModuleType
) -> None:
    settings.DESK_CSAT_AFTER = "all"
    sim_says(client, "你们几点发货？", "csat-sim-0001")
    conversation = Conversation.objects.get()
    spine.conversation_end(conversation_id=conversation.pk, reason=Conversation.EndReason.BOT_RESOLVED)

    clock.advance(3600)  # past the reopen grace, within the rating window
    sim_says(client, "４分，回复很快", "csat-sim-0002")

    rating = Satisfaction.objects.get()
    assert (rating.agent_id, rating.score, rating.comment) == (None, 4, "回复很快")
    seen = client.get(SIMULATOR_URL, {"customer_id": SIM_CUSTOMER, "after": "0"}).json()["messages"]
    assert [m["body"] for m in seen][-3:] == [ASK, "４分，回复很快", THANKS]
    assert Conversation.objects.count() == 1
    assert bot_replies() == 1


def test_a_reply_that_is_no_score_is_an_ordinary_message_that_reopens_as_before(
    client: Client, agent: User, clock: ModuleType
) -> None:
    sim_says(client, "我要退货", "csat-sim-0003")
    conversation = Conversation.objects.get()
    resolve_by(agent, conversation)

    clock.advance(60)
    sim_says(client, "还有一个问题：运费谁出？", "csat-sim-0004")

    conversation.refresh_from_db()
    assert conversation.mode == Conversation.Mode.BOT  # reopened within the grace, as before
    assert bot_replies() == 2
    assert Satisfaction.objects.get().score is None


def test_a_score_after_the_window_is_an_ordinary_message(
    client: Client, agent: User, clock: ModuleType, settings: Any
) -> None:
    sim_says(client, "我要退货", "csat-sim-0005")
    resolve_by(agent, Conversation.objects.get())

    clock.advance(settings.DESK_CSAT_WINDOW_S + 1)
    sim_says(client, "5", "csat-sim-0006")

    assert Satisfaction.objects.get().score is None
    assert Conversation.objects.count() == 2  # a new conversation, answered by the bot
    assert bot_replies() == 2


def test_an_abandoned_or_bot_resolved_conversation_is_not_asked_by_default(
    client: Client, clock: ModuleType, settings: Any
) -> None:
    sim_says(client, "转人工", "csat-sim-0007")
    queued = Conversation.objects.get()
    spine.conversation_end(conversation_id=queued.pk, reason=Conversation.EndReason.AGENT_RESOLVED)
    clock.advance(settings.DESK_REOPEN_GRACE_S + 1)
    sim_says(client, "你们几点发货？", "csat-sim-0008")
    answered = Conversation.objects.exclude(pk=queued.pk).get()
    spine.conversation_end(conversation_id=answered.pk, reason=Conversation.EndReason.BOT_RESOLVED)

    queued.refresh_from_db()
    assert queued.end_reason == Conversation.EndReason.ABANDONED
    assert not Satisfaction.objects.exists()
    assert not Message.objects.filter(answer_meta__notice="csat_ask").exists()


def kf_customer(client: Client, fake: FakeWeChat, msgid: str, text: dict[str, str]) -> None:
    message = {
        "msgid": msgid,
        "open_kfid": OPEN_KFID,
        "external_userid": KF_USER,
        "send_time": int(time.time()),
        "origin": 3,
        "msgtype": "text",
        "text": text,
    }
    fake.add_kf_messages(OPEN_KFID, [message])
    kf_post(client, kf_event_xml(open_kfid=OPEN_KFID, callback_token=f"tok-{msgid}"))


def test_a_wecom_kf_customer_rates_with_the_closing_menu(
    client: Client, kf_account: WechatAccount, fake_wechat: FakeWeChat, agent: User, clock: ModuleType
) -> None:
    kf_customer(client, fake_wechat, "k1", {"content": "发票怎么开？"})
    conversation = Conversation.objects.get()
    resolve_by(agent, conversation)

    # kf/send_msg is refused once the session ended: the menu rides on the end's msg_code.
    assert fake_wechat.kf.session(OPEN_KFID, KF_USER).state == 4
    (closing,) = fake_wechat.kf.event_replies
    assert [item["click"]["id"] for item in closing["msgmenu"]["list"]] == [f"csat-{n}" for n in (5, 4, 3, 2, 1)]
    rating = Satisfaction.objects.get()
    assert (rating.via, rating.agent_id) == (Satisfaction.Via.MENU, agent.pk)
    assert rating.asked_at is not None
    assert not Message.objects.filter(answer_meta__notice="csat_ask").exists()  # no text ask on kf
    sent_before = len(fake_wechat.sent)

    clock.advance(120)
    kf_customer(client, fake_wechat, "k2", {"content": "4 满意", "menu_id": "csat-4"})

    rating.refresh_from_db()
    assert (rating.score, rating.comment) == (4, "")
    assert rating.answer is not None
    assert rating.answer.channel_message_id == f"{CORP_ID}:k2"
    assert [s.content for s in fake_wechat.sent[sent_before:]] == [THANKS]  # the click started a new session
    assert Conversation.objects.count() == 1
    assert Conversation.objects.get().mode == Conversation.Mode.CLOSED
