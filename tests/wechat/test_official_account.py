"""Official Account callbacks, signed and encrypted exactly as WeChat does (wechatpy as the peer),
answered through a fake message/custom/send on loopback."""

import time
from collections.abc import Callable

import pytest
from django.test import Client

from apps.conversations.models import Conversation, Customer, Message
from apps.conversations.services import conversation_reply
from apps.conversations.tasks import deliver
from apps.wechat.models import InboundEvent, WechatAccount, WechatContact
from apps.wechat.planner import sentences
from peers.fake_wechat import FakeWeChat
from tests.wechat.answerers import LONG_ANSWER
from tests.wechat.signing import oa_event_xml, oa_post, oa_text_xml, sign

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


# Callbacks run on a pooled thread with its own connection: the data must really commit.
@pytest.mark.django_db(transaction=True)
def test_it_echoes_echostr_for_a_signed_url_check(client: Client, oa_account: WechatAccount) -> None:
    ts = str(int(time.time()))
    query = {"signature": sign(oa_account.token, ts, "77"), "timestamp": ts, "nonce": "77", "echostr": "8093"}

    response = client.get(f"/wechat/oa/{oa_account.app_id}/", query)

    assert response.status_code == 200
    assert response.content == b"8093"


@pytest.mark.parametrize("aes", [False, True], ids=["plain", "safe-mode"])
@pytest.mark.usefixtures("eager_tasks")
def test_a_message_wechat_tries_three_times_is_answered_once(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, aes: bool
) -> None:
    xml = oa_text_xml(openid=OPENID, msg_id="1234567890123456", content="你们几点关门？")
    fake_wechat.user_wrote(OPENID)

    responses = [oa_post(client, xml, aes=aes, nonce=f"n{attempt}") for attempt in range(3)]

    assert [(r.status_code, r.content) for r in responses] == [(200, b"success")] * 3  # type: ignore[attr-defined]
    inbound = Message.objects.get(direction=Message.Direction.INBOUND)
    assert inbound.body == "你们几点关门？"
    assert inbound.status == Message.Status.ANSWERED
    assert [(s.api, s.touser) for s in fake_wechat.sent] == [("custom", OPENID)]
    assert "你们几点关门？" in fake_wechat.sent[0].content
    reply = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert reply.status == Message.Status.DELIVERED
    assert WechatContact.objects.get(user_id=OPENID).sent_in_window == 1


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    "<xml><ToUserName>gh</ToUserName><FromUserName>o_user</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&lol3;</Content><MsgId>1</MsgId></xml>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>gh</ToUserName><FromUserName>o_user</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>"
)
MALFORMED = "<xml><ToUserName>gh</ToUserName><FromUserName>o_user<CreateTime>1</xml"


@pytest.mark.parametrize(
    ("post", "status"),
    [
        pytest.param(
            lambda c: oa_post(c, oa_text_xml(openid=OPENID, msg_id="1", content="x"), token="forged"),
            403,
            id="forged-signature",
        ),
        pytest.param(
            lambda c: oa_post(
                c, oa_text_xml(openid=OPENID, msg_id="1", content="x"), timestamp=int(time.time()) - 3600
            ),
            403,
            id="stale-timestamp",
        ),
        pytest.param(
            lambda c: oa_post(
                c, oa_text_xml(openid=OPENID, msg_id="1", content="x"), aes=True, app_id="wxsomeoneelse00000"
            ),
            403,
            id="encrypted-for-another-app",
        ),
        pytest.param(lambda c: oa_post(c, MALFORMED), 400, id="malformed-xml"),
        pytest.param(lambda c: oa_post(c, XXE), 400, id="xxe"),
        pytest.param(lambda c: oa_post(c, BILLION_LAUGHS), 400, id="billion-laughs"),
        pytest.param(lambda c: oa_post(c, XXE, aes=True), 400, id="xxe-inside-ciphertext"),
        pytest.param(lambda c: oa_post(c, "<xml><MsgType>text</MsgType></xml>"), 400, id="missing-fields"),
        pytest.param(lambda c: oa_post(c, "<xml>" + "<a>x</a>" * 20000 + "</xml>"), 413, id="oversized"),
    ],
)
# Callbacks run on a pooled thread with its own connection: the data must really commit.
@pytest.mark.django_db(transaction=True)
def test_it_refuses_bad_callbacks_cleanly_and_stores_nothing(
    client: Client, oa_account: WechatAccount, post: Callable[[Client], object], status: int
) -> None:
    response = post(client)

    assert response.status_code == status  # type: ignore[attr-defined]
    assert b"root:" not in response.content  # type: ignore[attr-defined]
    assert Message.objects.count() == 0
    assert Customer.objects.count() == 0
    assert WechatContact.objects.count() == 0


# Callbacks run on a pooled thread with its own connection: the data must really commit.
@pytest.mark.django_db(transaction=True)
def test_it_answers_404_for_an_unknown_account(client: Client) -> None:
    response = oa_post(client, oa_text_xml(openid=OPENID, msg_id="1", content="x"))
    assert response.status_code == 404  # type: ignore[attr-defined]


@pytest.mark.usefixtures("eager_tasks")
def test_a_new_follower_is_greeted_once_despite_retries(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, settings: object
) -> None:
    xml = oa_event_xml(openid=OPENID, event="subscribe", create_time=int(time.time()))
    fake_wechat.user_wrote(OPENID)

    codes = [oa_post(client, xml, nonce=str(n)).status_code for n in range(3)]  # type: ignore[attr-defined]

    assert codes == [200, 200, 200]
    assert [s.content for s in fake_wechat.sent] == [settings.WECHAT_SUBSCRIBE_GREETING]  # type: ignore[attr-defined]
    assert InboundEvent.objects.count() == 1
    assert Message.objects.filter(direction=Message.Direction.INBOUND).count() == 0


@pytest.mark.usefixtures("eager_tasks")
def test_a_6000_byte_answer_goes_out_split_on_sentence_boundaries_within_quota(
    client: Client,
    oa_account: WechatAccount,
    fake_wechat: FakeWeChat,
    use_answerer: Callable[[str], None],
) -> None:
    use_answerer("tests.wechat.answerers.LongAnswerer")
    fake_wechat.user_wrote(OPENID)

    oa_post(client, oa_text_xml(openid=OPENID, msg_id="42", content="请详细介绍退货流程"), aes=True)

    contents = [s.content for s in fake_wechat.sent]
    assert 3 <= len(contents) <= 5
    assert "".join(contents) == LONG_ANSWER
    assert all(len(content.encode("utf-8")) <= 2048 for content in contents)
    ends = {sum(len(p) for p in sentences(LONG_ANSWER)[: i + 1]) for i in range(len(sentences(LONG_ANSWER)))}
    assert all(sum(len(c) for c in contents[: i + 1]) in ends for i in range(len(contents)))
    assert Message.objects.get(direction=Message.Direction.OUTBOUND).status == Message.Status.DELIVERED
    assert WechatContact.objects.get(user_id=OPENID).sent_in_window == len(contents)


@pytest.mark.usefixtures("eager_tasks")
def test_a_quota_error_is_recorded_and_never_retried_into(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.budget = 1  # WeChat counts differently than we do: it says 45047 after one
    fake_wechat.user_wrote(OPENID)
    oa_post(client, oa_text_xml(openid=OPENID, msg_id="1", content="第一问"))
    oa_post(client, oa_text_xml(openid=OPENID, msg_id="1", content="第一问"))  # a retry changes nothing
    conversation = Conversation.objects.get()
    calls_before = len(fake_wechat.sent)

    # A second reply in the same window: refused by WeChat once, then never asked again.
    second = conversation_reply(conversation=conversation, body="补充一句。", author_kind=Message.AuthorKind.AGENT)
    third = conversation_reply(conversation=conversation, body="再补充。", author_kind=Message.AuthorKind.AGENT)

    second.refresh_from_db()
    third.refresh_from_db()
    contact = WechatContact.objects.get(user_id=OPENID)
    assert calls_before == 1
    assert len(fake_wechat.sent) == 1
    assert (second.status, third.status) == (Message.Status.FAILED, Message.Status.FAILED)
    assert "45047" in second.error
    assert contact.quota_error_code == 45047
    assert contact.quota_errors == 2  # one from WeChat, one refused locally without a call


@pytest.mark.usefixtures("eager_tasks")
def test_no_reply_is_attempted_outside_the_48_hour_window(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    two_days_ago = int(time.time()) - 49 * 3600
    # The callback itself is fresh; the message it carries is old (WeChat delivers late sometimes).
    oa_post(client, oa_text_xml(openid=OPENID, msg_id="7", content="旧消息", create_time=two_days_ago))

    reply = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert reply.status == Message.Status.FAILED
    assert fake_wechat.sent == []
    assert WechatContact.objects.get(user_id=OPENID).quota_error_code == 45015


@pytest.mark.usefixtures("eager_tasks")
def test_a_revoked_access_token_is_refreshed_once_and_the_reply_still_goes_out(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.user_wrote(OPENID)
    oa_post(client, oa_text_xml(openid=OPENID, msg_id="1", content="一"))
    fake_wechat.revoke_tokens()  # someone else fetched a new token: ours stops working

    oa_post(client, oa_text_xml(openid=OPENID, msg_id="2", content="二"))

    assert len(fake_wechat.sent) == 2
    assert fake_wechat.token_fetches[oa_account.app_id] == 2


@pytest.mark.usefixtures("eager_tasks")
def test_a_transient_api_failure_is_retried_without_sending_twice(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, use_answerer: Callable[[str], None]
) -> None:
    use_answerer("tests.wechat.answerers.LongAnswerer")
    fake_wechat.user_wrote(OPENID)
    fake_wechat.fail_next("/cgi-bin/message/custom/send", after=1)  # the second segment's first try

    oa_post(client, oa_text_xml(openid=OPENID, msg_id="9", content="长回答"))
    reply = Message.objects.get(direction=Message.Direction.OUTBOUND)
    # The inline delivery sent segment 1, failed on segment 2 and queued the deliver task, which
    # (eager here) sent the rest: two attempts, the failure consumed, nothing sent twice.
    assert reply.status == Message.Status.DELIVERED
    assert reply.attempts == 2
    assert fake_wechat.failures["/cgi-bin/message/custom/send"] == 0
    deliver.apply(args=(reply.pk,))  # a late duplicate of the task (or the sweeper) sends nothing more

    reply.refresh_from_db()
    assert reply.status == Message.Status.DELIVERED
    assert "".join(s.content for s in fake_wechat.sent) == LONG_ANSWER  # segment 1 was not sent again
    assert WechatContact.objects.get(user_id=OPENID).sent_in_window == len(fake_wechat.sent)
