"""Official Account passive replies, in process: the answer is ready before the callback waits
(eager tasks), so these check what is handed out, to whom, how often and how it is encoded.
Timing (WeChat's 5 s and its retries) is in test_oa_passive_live.py."""

import asyncio
import threading
import time
from datetime import timedelta

import pytest
import xmltodict
from django.db import connection
from django.test import Client
from django.utils import timezone
from wechatpy.crypto import WeChatCrypto

from apps.audit.events import AuditEvent
from apps.audit.models import AuditLog
from apps.conversations.models import Conversation, Message
from apps.conversations.services import conversation_reply, message_deliver, messages_sweep
from apps.wechat.crypto import MessageCrypto
from apps.wechat.models import OaPassiveReply, WechatAccount
from apps.wechat.official_account import hold, passive, wakeup
from apps.wechat.official_account.passive import passive_replies_hand_out
from apps.wechat.official_account.replies import encrypted_reply_xml, text_reply_xml
from apps.wechat.official_account.services import OaCallback, oa_callback_accept
from apps.wechat.payloads import xml_fields
from peers.fake_wechat import FakeWeChat
from tests.support.waiting import wait_for
from tests.wechat.conftest import AES_KEY, OA_APP_ID, OA_TOKEN
from tests.wechat.signing import oa_post, oa_text_xml

OPENID = "oPassive0000000000000000001"
OUT = Message.Direction.OUTBOUND


def _reply_of(response: object, *, aes: bool = False) -> str | None:
    """The Content of a passive reply, decrypted and signature-checked with wechatpy; None for "success"."""
    body = response.content.decode()  # type: ignore[attr-defined]
    if body in ("", "success"):
        return None
    fields = xmltodict.parse(body)["xml"]
    if aes:
        crypto = WeChatCrypto(OA_TOKEN, AES_KEY, OA_APP_ID)
        fields = xmltodict.parse(
            crypto.decrypt_message(body, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"])
        )["xml"]
    assert (fields["ToUserName"], fields["FromUserName"], fields["MsgType"]) == (OPENID, "gh_test", "text")
    return str(fields["Content"])


@pytest.fixture
def passive_account(oa_account: WechatAccount) -> WechatAccount:
    oa_account.reply_mode = WechatAccount.ReplyMode.PASSIVE
    oa_account.save(update_fields=["reply_mode"])
    return oa_account


@pytest.mark.parametrize("aes", [False, True], ids=["plain", "safe-mode"])
@pytest.mark.usefixtures("eager_tasks")
def test_a_passive_account_answers_in_the_response_and_a_late_retry_gets_success(
    client: Client, passive_account: WechatAccount, fake_wechat: FakeWeChat, aes: bool
) -> None:
    fake_wechat.unverified.add(passive_account.app_id)
    xml = oa_text_xml(openid=OPENID, msg_id="5001", content="几点开门？")

    first = oa_post(client, xml, aes=aes, nonce="n1")
    retry = oa_post(client, xml, aes=aes, nonce="n2")  # WeChat did not see the first response

    assert "几点开门？" in (_reply_of(first, aes=aes) or "")
    assert retry.content == b"success"  # type: ignore[attr-defined]
    reply = Message.objects.get(direction=OUT)
    assert reply.status == Message.Status.DELIVERED
    assert OaPassiveReply.objects.get().handed_out_in == "5001"
    assert fake_wechat.sent == []
    assert fake_wechat.refused[passive_account.app_id] == 0


@pytest.mark.usefixtures("eager_tasks")
def test_an_automatic_account_turns_passive_on_48001_and_keeps_the_refused_reply(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.user_wrote(OPENID)
    first = oa_post(client, oa_text_xml(openid=OPENID, msg_id="6001", content="第一问"))
    assert first.content == b"success"  # type: ignore[attr-defined]  # custom-send works for now
    fake_wechat.unverified.add(oa_account.app_id)  # WeChat now refuses custom-send: 48001

    agent = conversation_reply(
        conversation=Conversation.objects.get(), body="客服补充说明。", author_kind=Message.AuthorKind.AGENT
    )

    oa_account.refresh_from_db()
    agent.refresh_from_db()
    assert oa_account.passive_since is not None
    assert "48001" in oa_account.passive_reason
    assert AuditLog.objects.filter(event=AuditEvent.WECHAT_OA_PASSIVE).count() == 1
    assert agent.status == Message.Status.PROCESSING  # not lost, not failed: parked for a callback
    assert agent.status_changed_at > timezone.now() + timedelta(hours=47)  # the sweeper waits for it
    assert fake_wechat.refused[oa_account.app_id] == 1

    second = oa_post(client, oa_text_xml(openid=OPENID, msg_id="6002", content="第二问"))

    # The oldest reply first, the new one after it, in the one message a response can carry.
    text = _reply_of(second) or ""
    assert text.index("客服补充说明。") < text.index("第二问")
    assert set(Message.objects.filter(direction=OUT).values_list("status", flat=True)) == {Message.Status.DELIVERED}
    assert fake_wechat.refused[oa_account.app_id] == 1  # custom-send is not tried again
    # Only the first answer went out through custom-send, before WeChat started refusing it.
    assert [sent.content for sent in fake_wechat.sent] == [Message.objects.filter(direction=OUT).earliest("pk").body]


@pytest.mark.usefixtures("eager_tasks")
def test_a_custom_send_account_fails_the_reply_on_48001_instead_of_switching(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    oa_account.reply_mode = WechatAccount.ReplyMode.CUSTOM
    oa_account.save(update_fields=["reply_mode"])
    fake_wechat.unverified.add(oa_account.app_id)
    fake_wechat.user_wrote(OPENID)

    oa_post(client, oa_text_xml(openid=OPENID, msg_id="7001", content="问"))

    reply = Message.objects.get(direction=OUT)
    assert reply.status == Message.Status.FAILED
    assert "48001" in reply.error
    oa_account.refresh_from_db()
    assert oa_account.passive_since is None


@pytest.mark.usefixtures("eager_tasks")
def test_custom_send_keeps_its_window_and_budget(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.budget = 1
    fake_wechat.user_wrote(OPENID)
    oa_post(client, oa_text_xml(openid=OPENID, msg_id="7101", content="问"))
    conversation = Conversation.objects.get()

    extra = conversation_reply(conversation=conversation, body="补充。", author_kind=Message.AuthorKind.AGENT)

    extra.refresh_from_db()
    assert len(fake_wechat.sent) == 1
    assert extra.status == Message.Status.FAILED
    assert "45047" in extra.error


@pytest.mark.usefixtures("eager_tasks")
def test_a_reply_is_handed_out_by_one_callback_only(
    client: Client, passive_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    oa_post(client, oa_text_xml(openid=OPENID, msg_id="8001", content="问"))  # answered in the response
    conversation = Conversation.objects.get()
    for round_ in range(5):
        conversation_reply(conversation=conversation, body=f"补充{round_}", author_kind=Message.AuthorKind.AGENT)
        barrier, texts = threading.Barrier(4), list[str]()

        def hand_out(key: str, barrier: threading.Barrier = barrier, texts: list[str] = texts) -> None:
            barrier.wait()
            try:
                texts.append(passive_replies_hand_out(account_id=passive_account.pk, openid=OPENID, callback_key=key))
            finally:
                connection.close()  # back to the pool: a thread's connection is not closed for it

        threads = [threading.Thread(target=hand_out, args=(f"k{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(texts) == ["", "", "", f"补充{round_}"]
    assert not Message.objects.filter(direction=OUT).exclude(status=Message.Status.DELIVERED).exists()


@pytest.mark.usefixtures("eager_tasks")
def test_an_uncollected_reply_is_left_to_wait_then_fails_after_the_hold(
    client: Client, passive_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    oa_post(client, oa_text_xml(openid=OPENID, msg_id="9001", content="问"))
    conversation = Conversation.objects.get()
    agent = conversation_reply(conversation=conversation, body="客服补充。", author_kind=Message.AuthorKind.AGENT)

    assert messages_sweep(now=timezone.now() + timedelta(hours=47)).requeued_outbound == 0
    OaPassiveReply.objects.filter(message=agent).update(ready_at=timezone.now() - timedelta(hours=49))
    messages_sweep(now=timezone.now() + timedelta(hours=49))  # re-asks the adapter, which gives up

    agent.refresh_from_db()
    assert agent.status == Message.Status.FAILED
    assert "48 h" in agent.error
    assert not OaPassiveReply.objects.filter(message=agent, handed_out_at__isnull=False).exists()


def test_reply_xml_survives_cdata_breakers_and_control_characters() -> None:
    xml = text_reply_xml(to_user=OPENID, from_user="gh_test", content="a]]>b\x00c\x1fd", now=1)
    assert xmltodict.parse(xml)["xml"]["Content"] == "a]]>bcd"


def test_wechatpy_reads_our_encrypted_reply() -> None:
    crypto = MessageCrypto(token=OA_TOKEN, encoding_aes_key=AES_KEY, receive_id=OA_APP_ID)
    plain = text_reply_xml(to_user=OPENID, from_user="gh_test", content="你好", now=int(time.time()))
    envelope = encrypted_reply_xml(crypto=crypto, plain=plain, nonce="abc")

    fields = xmltodict.parse(envelope)["xml"]
    peer = WeChatCrypto(OA_TOKEN, AES_KEY, OA_APP_ID)
    assert peer.decrypt_message(envelope, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]) == plain


@pytest.mark.parametrize("wakeups", [True, False], ids=["woken", "polling"])
@pytest.mark.django_db(transaction=True)
def test_a_held_callback_gets_a_reply_parked_while_it_waits(
    passive_account: WechatAccount,
    fake_wechat: FakeWeChat,
    settings: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    wakeups: bool,
) -> None:
    settings.WECHAT_OA_PASSIVE_WAIT_SECONDS = 3.0  # type: ignore[attr-defined]
    if wakeups:  # only the wake-up can make it quick: no polling while the subscription is up
        settings.WECHAT_OA_PASSIVE_POLL_SECONDS = 10.0  # type: ignore[attr-defined]
        wait_for(wakeup.wakeups_working, timeout=10, what="the wake-up subscription")
    else:  # Redis pub/sub away: nothing is published, the waiter polls Postgres
        settings.WECHAT_OA_PASSIVE_POLL_SECONDS = 0.2  # type: ignore[attr-defined]
        monkeypatch.setattr(hold, "wakeups_working", lambda: False)
        monkeypatch.setattr(passive, "ready_publish", lambda **kwargs: None)
    callback = OaCallback.from_fields(
        xml_fields(oa_text_xml(openid=OPENID, msg_id="9901", content="问", create_time=int(time.time())))
    )
    received = oa_callback_accept(account=passive_account, callback=callback)  # not answered: no worker
    assert received is not None
    held = hold.PassiveHold(
        account_id=passive_account.pk, openid=OPENID, account_user="gh_test", callback_key=callback.key,
        inbound_id=received.message.pk, try_number=1, crypto=None, nonce="n",
    )  # fmt: skip
    responses: list[object] = []

    def wechat_waits() -> None:
        try:
            responses.append(asyncio.run(held.respond(received_at=time.monotonic())))
        finally:
            connection.close()

    waiting = threading.Thread(target=wechat_waits)
    started = time.monotonic()
    waiting.start()
    time.sleep(0.5)  # the callback is waiting now; the answer comes
    reply = conversation_reply(
        conversation=received.message.conversation, body="答复。", author_kind=Message.AuthorKind.AGENT,
        reply_to=received.message,
    )  # fmt: skip
    message_deliver(message_id=reply.pk)  # parks it (no custom-send for a passive account)
    waiting.join(timeout=10)

    assert _reply_of(responses[0]) == "答复。"
    assert time.monotonic() - started < 2.0  # well before the wait ran out
    reply.refresh_from_db()
    assert reply.status == Message.Status.DELIVERED
