"""The WeChat channels' accounts in the spine's channel interface: the console filters by them
without knowing a WeChat model (ChannelAdapter.accounts / account_customers)."""

import pytest

from apps.conversations import selectors
from apps.conversations.channels import ChannelAccount, get_adapter
from apps.conversations.models import Conversation
from apps.wechat.channels import OFFICIAL_ACCOUNT, WECHATY, WECOM_KF
from apps.wechat.models import WechatAccount
from tests.factories import ConversationFactory, KfAccountFactory, OfficialAccountFactory, WechatContactFactory

pytestmark = pytest.mark.django_db


def a_conversation(account: WechatAccount, external_id: str) -> int:
    contact = WechatContactFactory.create(
        account=account, customer__external_id=external_id, open_kfid=external_id.partition(":")[0]
    )
    return ConversationFactory.create(customer=contact.customer).pk


def found(account: str) -> set[int]:
    return set(Conversation.objects.filter(selectors.account_filter(account=account)).values_list("pk", flat=True))


def test_two_official_accounts_and_a_kf_corp_split_their_conversations() -> None:
    shop = OfficialAccountFactory.create(name="A 商城")
    club = OfficialAccountFactory.create(name="B 会员", is_active=False)  # its conversations stay
    corp = KfAccountFactory.create(name="售后客服")
    at_shop = {a_conversation(shop, "o-shop-1"), a_conversation(shop, "o-shop-2")}
    at_club = {a_conversation(club, "o-club-1")}
    # One corp, two kf accounts (open_kfid): one account for the filter.
    at_corp = {a_conversation(corp, "wkAAA:wm-1"), a_conversation(corp, "wkBBB:wm-2")}
    ConversationFactory.create(customer__channel=WECHATY, customer__external_id="wxid_1")

    assert get_adapter(OFFICIAL_ACCOUNT).accounts() == [
        ChannelAccount(shop.app_id, "A 商城"),
        ChannelAccount(club.app_id, "B 会员"),
    ]
    assert get_adapter(WECOM_KF).accounts() == [ChannelAccount(corp.app_id, "售后客服")]
    assert [group.channel for group in selectors.channel_accounts()] == [OFFICIAL_ACCOUNT, WECOM_KF]

    assert found(f"official_account:{shop.app_id}") == at_shop
    assert found(f"official_account:{club.app_id}") == at_club
    assert found(f"wecom_kf:{corp.app_id}") == at_corp
    # An account is its kind's: a CorpID under the Official Account channel matches nothing.
    assert found(f"official_account:{corp.app_id}") == found(f"wecom_kf:{shop.app_id}") == set()


def test_the_wechaty_channel_is_one_bridge_and_lists_no_accounts() -> None:
    assert get_adapter(WECHATY).accounts() == []
    assert found(f"{WECHATY}:default") == set()
