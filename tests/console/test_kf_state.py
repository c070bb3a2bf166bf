"""A console takeover of a WeCom 客服 chat tells WeChat who serves the customer (fake WeChat API
on loopback, from peers/)."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from apps.console import services as console
from apps.conversations.models import Conversation
from apps.wechat.models import WechatAccount, WechatContact, WecomServicer
from peers.fake_wechat import FakeWeChat
from tests.wechat.conftest import (  # noqa: F401  (autouse fixtures of the channel tests, for this module)
    _callback_threads_do_not_keep_connections,
    _instant_pipeline,
)
from tests.wechat.signing import kf_event_xml, kf_post
from tests.wechat.test_kf import OPEN_KFID, customer_messages

pytestmark = pytest.mark.usefixtures("eager_tasks")


def test_takeover_and_hand_back_push_the_kf_service_state(
    client: Client,
    kf_account: WechatAccount,
    fake_wechat: FakeWeChat,
    agent: User,
) -> None:
    WecomServicer.objects.create(user=agent, userid="zhangsan")
    fake_wechat.add_kf_messages(OPEN_KFID, customer_messages(1, users=1))
    kf_post(client, kf_event_xml(open_kfid=OPEN_KFID, callback_token="T"))
    conversation = Conversation.objects.get()
    contact = WechatContact.objects.get()

    console.conversation_take_over(conversation_id=conversation.pk, agent=agent)
    console.conversation_hand_back(conversation_id=conversation.pk, agent=agent)

    assert fake_wechat.states == [
        {"open_kfid": OPEN_KFID, "external_userid": contact.user_id, "service_state": 3, "servicer_userid": "zhangsan"},
        {"open_kfid": OPEN_KFID, "external_userid": contact.user_id, "service_state": 1},
    ]


def test_an_agent_without_a_wecom_userid_takes_over_without_a_state_push(
    client: Client,
    kf_account: WechatAccount,
    fake_wechat: FakeWeChat,
    agent: User,
) -> None:
    fake_wechat.add_kf_messages(OPEN_KFID, customer_messages(1, users=1))
    kf_post(client, kf_event_xml(open_kfid=OPEN_KFID, callback_token="T"))
    conversation = Conversation.objects.get()

    console.conversation_take_over(conversation_id=conversation.pk, agent=agent)

    assert Conversation.objects.get(pk=conversation.pk).mode == Conversation.Mode.HUMAN
    assert fake_wechat.states == []
