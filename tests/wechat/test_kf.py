"""WeCom 微信客服: encrypted callbacks (wechatpy as the peer), sync_msg paging against a fake
WeChat API on loopback, and the service_state mapping."""

import time
from typing import Any

import pytest
from django.db.models import Count
from django.test import Client

from apps.conversations.models import Message
from apps.wechat.kf.services import kf_sync_sweep
from apps.wechat.models import KfCursor, WechatAccount
from peers.fake_wechat import FakeWeChat
from tests.wechat.signing import kf_event_xml, kf_post, kf_verify_url

OPEN_KFID = "wkAJ2GCAAAZSfhHCt7IFSvLKtMPxyJTw"


def customer_messages(count: int, users: int, *, first: int = 0) -> list[dict[str, Any]]:
    now = int(time.time())
    return [
        {
            "msgid": f"msg{first + i:06d}",
            "open_kfid": OPEN_KFID,
            "external_userid": f"wmUser{(first + i) % users:04d}",
            "send_time": now,
            "origin": 3,
            "msgtype": "text",
            "text": {"content": f"问题 {first + i}"},
        }
        for i in range(count)
    ]


# Callbacks run on a pooled thread with its own connection: the data must really commit.
@pytest.mark.django_db(transaction=True)
def test_it_answers_the_url_check_with_the_decrypted_echostr(client: Client, kf_account: WechatAccount) -> None:
    url, plaintext = kf_verify_url("2958812237196218816")

    response = client.get(url)

    assert response.status_code == 200
    assert response.content.decode() == plaintext


# Callbacks run on a pooled thread with its own connection: the data must really commit.
@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_forged_callback_and_stores_nothing(client: Client, kf_account: WechatAccount) -> None:
    response = kf_post(client, kf_event_xml(open_kfid=OPEN_KFID, callback_token="T"), forge=True)

    assert response.status_code == 403  # type: ignore[attr-defined]
    assert KfCursor.objects.count() == 0


@pytest.fixture
def fast_commits(eager_tasks: None) -> None:
    """Thousands of real commits follow; their durability is irrelevant to a test database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")


@pytest.mark.usefixtures("fast_commits")
def test_a_1500_message_burst_over_two_pages_survives_a_restart_and_is_answered_once(
    client: Client, kf_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    # 300 customers writing 5 messages each: every answer is within WeChat's 5-per-window budget.
    fake_wechat.add_kf_messages(OPEN_KFID, customer_messages(1500, users=300))
    # The sync dies after the first page is committed, as a killed worker would.
    fake_wechat.fail_next("/cgi-bin/kf/sync_msg", after=1)

    first = kf_post(client, kf_event_xml(open_kfid=OPEN_KFID, callback_token="ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhF"))

    assert first.status_code == 200  # type: ignore[attr-defined]
    cursor = KfCursor.objects.get()
    assert cursor.cursor == "cursor-1000"  # saved with the page's messages
    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == 1000

    # The next callback (or the sweeper) restarts from the saved cursor.
    kf_post(client, kf_event_xml(open_kfid=OPEN_KFID, callback_token="second-token"))
    kf_post(client, kf_event_xml(open_kfid=OPEN_KFID, callback_token="third-token"))  # nothing new

    inbound = Message.objects.filter(direction=Message.Direction.INBOUND)
    assert inbound.count() == 1500
    assert set(inbound.values_list("channel_message_id", flat=True)) == {
        f"{kf_account.app_id}:msg{i:06d}" for i in range(1500)
    }
    assert not inbound.exclude(status=Message.Status.ANSWERED).exists()
    replies = Message.objects.filter(direction=Message.Direction.OUTBOUND)
    assert replies.count() == 1500
    assert not replies.values("reply_to").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert not replies.exclude(status=Message.Status.DELIVERED).exists()
    assert len(fake_wechat.sent) == 1500
    assert len({sent.msgid for sent in fake_wechat.sent}) == 1500
    assert {sent.touser for sent in fake_wechat.sent} == {f"wmUser{u:04d}" for u in range(300)}
    assert [call.get("cursor", "") for call in fake_wechat.sync_calls] == ["", "cursor-1000", "cursor-1500"]
    assert all(call["limit"] <= 1000 for call in fake_wechat.sync_calls)
    assert fake_wechat.sync_calls[1]["token"] == "second-token"
    cursor.refresh_from_db()
    assert (cursor.cursor, cursor.messages_synced) == ("cursor-1500", 1500)
    assert kf_sync_sweep() == 0  # nothing left behind


@pytest.mark.usefixtures("eager_tasks")
def test_events_and_servicer_messages_advance_the_cursor_without_a_bot_answer(
    client: Client, kf_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    now = int(time.time())
    fake_wechat.add_kf_messages(
        OPEN_KFID,
        [
            {
                "msgid": "e1",
                "open_kfid": OPEN_KFID,
                "external_userid": "wmA",
                "send_time": now,
                "origin": 4,
                "msgtype": "event",
                "event": {"event_type": "enter_session", "welcome_code": "w"},
            },
            {
                "msgid": "s1",
                "open_kfid": OPEN_KFID,
                "external_userid": "wmA",
                "send_time": now,
                "origin": 5,
                "msgtype": "text",
                "text": {"content": "人工客服的回复"},
                "servicer_userid": "zhangsan",
            },
            *customer_messages(1, users=1),
        ],
    )

    kf_post(client, kf_event_xml(open_kfid=OPEN_KFID, callback_token="T"))

    assert list(Message.objects.filter(direction="in").values_list("body", flat=True)) == ["问题 0"]
    assert len(fake_wechat.sent) == 1
    assert KfCursor.objects.get().cursor == "cursor-3"
