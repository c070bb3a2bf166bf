"""One person across the Official Account and WeCom 客服, linked by WeChat's unionid.

The fake WeChat API answers user/info(/batchget) and kf/customer/batchget only for users the test made
known (peers/fake_wechat_users.py), refuses bad tokens, secrets and over-long batches; the desk asks in
a batched task after the first message committed, never in the callback's request (the batches
themselves: tests/wechat/test_profile_batches.py).
"""

import logging
from typing import Any

import httpx
import pytest
from celery.exceptions import Retry
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.conversations.models import Conversation, Customer, Message
from apps.conversations.services import message_receive
from apps.conversations.tasks import customer_profiles_fetch
from apps.customers import selectors
from apps.customers.models import Identity, Person
from apps.wechat import client as wechat_client
from apps.wechat.models import WechatAccount
from peers.fake_wechat import FakeWeChat
from tests.wechat.conftest import CORP_ID, OA_APP_ID
from tests.wechat.signing import kf_event_xml, kf_post, oa_post, oa_text_xml
from tests.wechat.test_kf import OPEN_KFID, customer_messages

pytestmark = pytest.mark.usefixtures("eager_tasks")

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
KF_USER = "wmUser0000"
UNIONID = "o6_bmasdasdsad6_2sgVt7hMZOPfL"


def oa_writes(client: Client, fake: FakeWeChat, *, openid: str = OPENID, msg_id: str = "1001") -> Customer:
    fake.user_wrote(openid)
    response = oa_post(client, oa_text_xml(openid=openid, msg_id=msg_id, content="你好"))
    assert response.content == b"success"  # type: ignore[attr-defined]
    return Customer.objects.get(channel="official_account", external_id=openid)


def kf_writes(client: Client, fake: FakeWeChat, *, user: str = KF_USER) -> Customer:
    (message,) = customer_messages(1, users=1)
    message["external_userid"] = user
    fake.add_kf_messages(OPEN_KFID, [message])
    kf_post(client, kf_event_xml(open_kfid=OPEN_KFID, callback_token="T"))
    return Customer.objects.get(channel="wecom_kf", external_id=f"{OPEN_KFID}:{user}")


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, bool]]:
    """Profile batches recorded instead of run: (args, whether a transaction was still open)."""
    calls: list[tuple[Any, bool]] = []

    def record(args: Any = None, **options: Any) -> None:
        calls.append((tuple(args or ()), connection.in_atomic_block))

    monkeypatch.setattr(customer_profiles_fetch, "apply_async", record)
    return calls


def test_an_oa_and_a_kf_customer_with_one_unionid_end_up_as_one_person(
    client: Client, oa_account: WechatAccount, kf_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.users.follow(OA_APP_ID, OPENID, unionid=UNIONID)
    fake_wechat.users.kf_customer(CORP_ID, KF_USER, nickname="小明", unionid=UNIONID)

    oa = oa_writes(client, fake_wechat)
    kf = kf_writes(client, fake_wechat)

    assert fake_wechat.users.calls == [("user/info/batchget", [OPENID]), ("kf/customer/batchget", [KF_USER])]
    person = Person.objects.get(merged_into=None)  # the kf customer's own Person was merged into it
    assert person.unionid == UNIONID
    assert sorted(Identity.objects.filter(person=person).values_list("customer_id", flat=True)) == [oa.pk, kf.pk]
    profile = selectors.profile(person_id=person.pk)
    assert {(i.channel, i.external_id) for i in profile.identities} == {
        ("official_account", OPENID),
        ("wecom_kf", f"{OPEN_KFID}:{KF_USER}"),
    }
    assert sorted(c.id for c in profile.conversations) == sorted(Conversation.objects.values_list("pk", flat=True))
    assert profile.conversations_total == 2
    # The kf nickname fills the empty name; an Official Account no longer gives one.
    kf.refresh_from_db()
    oa.refresh_from_db()
    assert (kf.display_name, oa.display_name) == ("小明", "")
    # Both messages were answered as usual.
    assert Message.objects.filter(direction=Message.Direction.INBOUND, status=Message.Status.ANSWERED).count() == 2


def test_a_customer_without_a_unionid_stays_a_person_of_their_own(
    client: Client, oa_account: WechatAccount, kf_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.users.follow(OA_APP_ID, OPENID)  # account not bound to an Open Platform account
    fake_wechat.users.kf_customer(CORP_ID, KF_USER, nickname="小明", unionid=UNIONID)

    oa = oa_writes(client, fake_wechat)
    kf = kf_writes(client, fake_wechat)

    assert fake_wechat.users.calls == [("user/info/batchget", [OPENID]), ("kf/customer/batchget", [KF_USER])]
    assert not Identity.objects.filter(customer=oa).exists()  # made lazily, when someone looks
    assert Identity.objects.get(customer=kf).person.unionid == UNIONID
    assert selectors.person_id_of(oa.pk) != selectors.person_id_of(kf.pk)


def test_the_callback_request_asks_wechat_nothing_and_the_task_is_enqueued_after_commit(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, enqueued: list[tuple[Any, bool]]
) -> None:
    fake_wechat.users.follow(OA_APP_ID, OPENID, unionid=UNIONID)

    customer = oa_writes(client, fake_wechat)
    oa_writes(client, fake_wechat, msg_id="1002")  # a known customer is not asked about again

    assert fake_wechat.users.calls == []
    assert enqueued == [((), False)]  # a batch, once, and outside the transaction
    assert customer.profile_due_at is not None  # marked in the transaction that created them
    assert not Person.objects.exists()

    customer_profiles_fetch.apply(args=enqueued[0][0])

    assert fake_wechat.users.calls == [("user/info/batchget", [OPENID])]
    assert Identity.objects.get(customer=customer).person.unionid == UNIONID
    customer.refresh_from_db()
    assert customer.profile_due_at is None


def test_channels_without_profiles_get_no_task(enqueued: list[tuple[Any, bool]]) -> None:
    message_receive(
        channel="simulator", external_user_id="sim-1", display_name="访客", channel_message_id=None, body="hi"
    )

    assert enqueued == []
    assert Customer.objects.get().profile_due_at is None


def test_the_task_is_idempotent_and_keeps_a_name_the_customer_already_has(
    client: Client, kf_account: WechatAccount, fake_wechat: FakeWeChat, enqueued: list[tuple[Any, bool]]
) -> None:
    fake_wechat.users.kf_customer(CORP_ID, KF_USER, nickname="微信昵称", unionid=UNIONID)
    customer = kf_writes(client, fake_wechat)
    Customer.objects.filter(pk=customer.pk).update(display_name="张三（会员）")

    customer_profiles_fetch.apply()
    # Due again, as if the worker was lost before it cleared the mark: asked again, linked once.
    Customer.objects.filter(pk=customer.pk).update(profile_due_at=timezone.now())
    customer_profiles_fetch.apply()

    assert fake_wechat.users.calls == [("kf/customer/batchget", [KF_USER])] * 2
    customer.refresh_from_db()
    assert customer.display_name == "张三（会员）"
    assert Person.objects.get().unionid == UNIONID
    assert Identity.objects.count() == 1
    assert AuditLog.objects.filter(event=AuditEvent.CUSTOMER_UNIONID_LINKED).count() == 1


def test_an_unknown_openid_is_logged_and_the_customer_is_still_served(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="apps.conversations.services.profile"):
        customer = oa_writes(client, fake_wechat)  # never followed, as far as the fake knows

    assert fake_wechat.users.calls == [("user/info/batchget", [OPENID])]
    assert "40003" in caplog.text
    assert not Identity.objects.filter(customer=customer).exists()
    assert Message.objects.get(direction=Message.Direction.INBOUND).status == Message.Status.ANSWERED


def test_an_unverified_account_is_asked_once_a_day_not_once_per_customer(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    fake_wechat.unverified.add(OA_APP_ID)  # WeChat answers 48001 to user/info for it
    fake_wechat.users.follow(OA_APP_ID, OPENID, unionid=UNIONID)
    fake_wechat.users.follow(OA_APP_ID, "o-second", unionid="u-second")

    with caplog.at_level(logging.INFO, logger="apps.wechat.profiles"):
        for openid, msg_id in ((OPENID, "1001"), ("o-second", "1002")):
            fake_wechat.user_wrote(openid)
            answer = oa_post(client, oa_text_xml(openid=openid, msg_id=msg_id, content="你好"))
            assert b"<xml>" in answer.content  # type: ignore[attr-defined]  # passive: unverified

    assert fake_wechat.users.calls == []  # refused before the fake's user table: 48001
    refused = [r for r in caplog.records if r.name == "apps.wechat.profiles" and "48001" in r.getMessage()]
    assert len(refused) == 1  # the second customer was not asked
    assert not Person.objects.exists()
    assert Message.objects.filter(direction=Message.Direction.INBOUND, status=Message.Status.ANSWERED).count() == 2


def test_an_unfollowed_user_has_no_profile(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, enqueued: list[tuple[Any, bool]]
) -> None:
    fake_wechat.users.follow(OA_APP_ID, OPENID, unionid=UNIONID)
    customer = oa_writes(client, fake_wechat)
    fake_wechat.users.unfollow(OA_APP_ID, OPENID)

    customer_profiles_fetch.apply()

    assert fake_wechat.users.calls == [("user/info/batchget", [OPENID])]
    assert not Person.objects.exists()
    assert Customer.objects.get(pk=customer.pk).profile_due_at is None  # settled: not asked again


def test_a_revoked_token_is_refreshed_once_and_the_link_is_made(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, enqueued: list[tuple[Any, bool]]
) -> None:
    fake_wechat.users.follow(OA_APP_ID, OPENID, unionid=UNIONID)
    customer = oa_writes(client, fake_wechat)
    fake_wechat.revoke_tokens()
    fetches = fake_wechat.token_fetches[OA_APP_ID]

    customer_profiles_fetch.apply()

    assert fake_wechat.users.calls == [("user/info/batchget", [OPENID])]  # after the revoked token's 40001
    assert fake_wechat.token_fetches[OA_APP_ID] == fetches + 1
    assert Identity.objects.get(customer=customer).person.unionid == UNIONID


def test_a_token_wechat_keeps_refusing_is_retried_with_backoff_then_given_up_without_a_crash(
    client: Client,
    kf_account: WechatAccount,
    fake_wechat: FakeWeChat,
    enqueued: list[tuple[Any, bool]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_wechat.users.kf_customer(CORP_ID, KF_USER, unionid=UNIONID)
    customer = kf_writes(client, fake_wechat)
    fake_wechat.secrets[CORP_ID] = "the-secret-was-rotated"
    fake_wechat.revoke_tokens()

    with pytest.raises(Retry) as retry:
        customer_profiles_fetch.apply(throw=True)
    # The retry asks about this batch's customers only (celery's stubs lack the signature).
    assert retry.value.sig.args == ([customer.pk],)  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="apps.conversations.tasks"):
        customer_profiles_fetch.apply(args=([customer.pk],), retries=customer_profiles_fetch.max_retries, throw=True)

    assert retry.value.when == 2  # seconds, doubling with each try
    assert "no profile after 7 tries" in caplog.text
    assert "40001" in caplog.text
    assert fake_wechat.users.calls == []  # refused at the door: no token WeChat accepts
    assert not Person.objects.exists()
    customer.refresh_from_db()
    assert customer.profile_due_at is None  # given up: not asked again by a later batch


def test_a_kf_customer_wecom_does_not_know_is_dropped(
    client: Client, kf_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    customer = kf_writes(client, fake_wechat)  # no kf_customer(): in invalid_external_userid

    assert fake_wechat.users.calls == [("kf/customer/batchget", [KF_USER])]
    assert customer.display_name == ""
    assert not Person.objects.exists()


@pytest.mark.usefixtures("kf_account")
def test_the_fake_refuses_what_wecom_refuses_in_a_batchget(fake_wechat: FakeWeChat) -> None:
    token = httpx.get(f"{fake_wechat.url}/cgi-bin/gettoken", params={"corpid": CORP_ID, "corpsecret": "s"}).json()
    url = f"{fake_wechat.url}/cgi-bin/kf/customer/batchget"
    ids = [f"wmUser{n:04d}" for n in range(101)]

    too_many = httpx.post(url, params={"access_token": token["access_token"]}, json={"external_userid_list": ids})
    bad_token = httpx.post(url, params={"access_token": "forged"}, json={"external_userid_list": ids[:1]})

    assert too_many.json()["errcode"] == 40058
    assert bad_token.json()["errcode"] == 40001
    with pytest.raises(ValueError, match="1 to 100"):
        wechat_client.kf_customer_batchget(access_token=token["access_token"], external_userids=ids)
    with pytest.raises(wechat_client.PermanentApiError) as refused:
        wechat_client.kf_customer_batchget(access_token=token["access_token"], external_userids=["not an id!"])
    assert refused.value.errcode == 40096
    oa_token = httpx.get(f"{fake_wechat.url}/cgi-bin/token", params={"appid": OA_APP_ID, "secret": "s"}).json()
    with pytest.raises(wechat_client.InvalidTokenError):  # an Official Account's token is not WeCom's
        wechat_client.kf_customer_batchget(access_token=oa_token["access_token"], external_userids=ids[:1])


@pytest.mark.usefixtures("oa_account")
def test_the_fake_refuses_what_wechat_refuses_in_a_user_info_batchget(fake_wechat: FakeWeChat) -> None:
    fake_wechat.users.follow(OA_APP_ID, OPENID, nickname="小红")
    token = httpx.get(f"{fake_wechat.url}/cgi-bin/token", params={"appid": OA_APP_ID, "secret": "s"}).json()
    url = f"{fake_wechat.url}/cgi-bin/user/info/batchget"
    users = [{"openid": f"o{n:04d}", "lang": "zh_CN"} for n in range(101)]

    def post(access_token: str, user_list: list[dict[str, str]]) -> dict[str, Any]:
        return httpx.post(url, params={"access_token": access_token}, json={"user_list": user_list}).json()

    assert post(token["access_token"], users)["errcode"] == 40032  # more than 100
    assert post(token["access_token"], [])["errcode"] == 40032
    assert post("forged", users[:1])["errcode"] == 40001
    # One openid that is not the account's refuses the whole call.
    assert post(token["access_token"], [{"openid": OPENID}, users[0]])["errcode"] == 40003
    answer = wechat_client.oa_user_info_batchget(access_token=token["access_token"], openids=[OPENID])
    assert [(u.openid, u.subscribe, u.nickname, u.unionid) for u in answer.user_info_list] == [(OPENID, 1, "小红", "")]
    with pytest.raises(ValueError, match="1 to 100"):
        wechat_client.oa_user_info_batchget(access_token=token["access_token"], openids=[u["openid"] for u in users])
    kf_token = httpx.get(f"{fake_wechat.url}/cgi-bin/gettoken", params={"corpid": CORP_ID, "corpsecret": "s"}).json()
    with pytest.raises(wechat_client.InvalidTokenError):  # a WeCom token is not an Official Account's
        wechat_client.oa_user_info_batchget(access_token=kf_token["access_token"], openids=[OPENID])
