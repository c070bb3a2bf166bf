"""Agents' media out: uploaded to the fake's cgi-bin/media/upload, then sent by media_id through
custom-send (Official Account) or kf/send_msg (WeCom 客服), within the same reply window and budget
as text; and the fake's own rules for uploads and media messages, as WeChat documents them."""

import time

import pytest
from django.db import transaction
from django.test import Client

from apps.conversations.channels import OutboundMedia, PermanentDeliveryError, TransientDeliveryError, get_adapter
from apps.conversations.media.send import media_attach, outgoing_media_check
from apps.conversations.models import Conversation, Message
from apps.conversations.services import conversation_reply, message_deliver
from apps.wechat import client
from apps.wechat.channels import OFFICIAL_ACCOUNT, WECOM_KF
from apps.wechat.models import WechatAccount, WechatContact
from peers.fake_wechat import FakeWeChat
from tests.wechat.conftest import CORP_ID, OA_APP_ID
from tests.wechat.media_files import AMR, MP4, photo_jpeg
from tests.wechat.signing import kf_event_xml, kf_post, oa_post, oa_text_xml

OPENID = "oMediaOut00000000000000000001"
OPEN_KFID = "wkMediaOut"
KF_USER = "wmMediaOutUser"
pytestmark = pytest.mark.usefixtures("eager_tasks", "media_root")


def oa_customer_writes(client_: Client, fake: FakeWeChat) -> Conversation:
    fake.user_wrote(OPENID)
    oa_post(client_, oa_text_xml(openid=OPENID, msg_id="5001", content="能发张图吗"))
    return Conversation.objects.get(customer__external_id=OPENID)


def kf_customer_writes(client_: Client, fake: FakeWeChat) -> Conversation:
    message = {
        "msgid": "kfout-1",
        "open_kfid": OPEN_KFID,
        "external_userid": KF_USER,
        "send_time": int(time.time()),
        "origin": 3,
        "msgtype": "text",
        "text": {"content": "能发个文件吗"},
    }
    fake.add_kf_messages(OPEN_KFID, [message])
    kf_post(client_, kf_event_xml(open_kfid=OPEN_KFID, callback_token="tok"))
    return Conversation.objects.get(customer__external_id=f"{OPEN_KFID}:{KF_USER}")


def agent_sends(conversation: Conversation, data: bytes, filename: str) -> Message:
    """What the console does: check the file, queue it on an agent message; delivery runs on commit."""
    media = outgoing_media_check(channel=conversation.channel, data=data, filename=filename)
    with transaction.atomic():
        reply = conversation_reply(conversation=conversation, body=media.body, author_kind=Message.AuthorKind.AGENT)
        media_attach(message=reply, media=media)
    reply.refresh_from_db()
    return reply


@pytest.mark.parametrize(
    ("kind", "data", "filename"),
    [("image", photo_jpeg(), "photo.jpg"), ("voice", AMR, "note.amr"), ("video", MP4, "clip.mp4")],
)
def test_an_agents_media_reaches_an_official_account_customer_through_upload_and_custom_send(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, kind: str, data: bytes, filename: str
) -> None:
    conversation = oa_customer_writes(client, fake_wechat)

    reply = agent_sends(conversation, data, filename)

    assert reply.status == Message.Status.DELIVERED, reply.error
    [upload] = fake_wechat.media.uploads
    assert (upload.app_id, upload.kind, upload.filename, upload.data) == (OA_APP_ID, kind, filename, data)
    sent = fake_wechat.sent[-1]
    assert (sent.api, sent.kind, sent.touser) == ("custom", kind, OPENID)
    assert sent.content.startswith(f"UPLOADED_{kind}_")
    # The bot's answer and the file: two of the five replies the customer's message allows.
    assert WechatContact.objects.get(user_id=OPENID).sent_in_window == 2


def test_an_official_account_refuses_to_send_a_file(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    conversation = oa_customer_writes(client, fake_wechat)
    outbound = OutboundMedia(
        message_id=999,
        conversation_id=conversation.pk,
        channel=OFFICIAL_ACCOUNT,
        customer_external_id=OPENID,
        kind="file",
        attachment_id=1,
        content_type="application/pdf",
        filename="a.pdf",
        data=b"%PDF-1.4 ...",
    )

    with pytest.raises(PermanentDeliveryError) as refused:
        get_adapter(OFFICIAL_ACCOUNT).send(outbound)

    assert refused.value.code == "media_unsupported"
    assert fake_wechat.media.uploads == []


def test_a_passive_official_account_refuses_media(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    conversation = oa_customer_writes(client, fake_wechat)
    WechatAccount.objects.filter(pk=oa_account.pk).update(reply_mode=WechatAccount.ReplyMode.PASSIVE)

    reply = agent_sends(conversation, photo_jpeg(), "photo.jpg")

    assert reply.status == Message.Status.FAILED
    assert "passively" in reply.error
    assert fake_wechat.media.uploads == []


def test_media_counts_against_the_reply_budget_like_text(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    conversation = oa_customer_writes(client, fake_wechat)
    WechatContact.objects.filter(user_id=OPENID).update(sent_in_window=5)

    reply = agent_sends(conversation, photo_jpeg(), "photo.jpg")

    assert reply.status == Message.Status.FAILED
    assert "45047" in reply.error
    assert fake_wechat.media.uploads == []  # refused before anything was uploaded


def test_a_send_retried_after_a_transient_failure_reuses_the_upload(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    conversation = oa_customer_writes(client, fake_wechat)
    fake_wechat.fail_next("/cgi-bin/message/custom/send")  # the upload works, the send gets a 502

    reply = agent_sends(conversation, photo_jpeg(), "photo.jpg")
    assert reply.status == Message.Status.PROCESSING  # the deliver task retries (eager tasks do not)
    message_deliver(message_id=reply.pk)

    reply.refresh_from_db()
    assert reply.status == Message.Status.DELIVERED
    assert len(fake_wechat.media.uploads) == 1
    assert fake_wechat.sent[-1].kind == "image"


@pytest.mark.parametrize(
    ("kind", "data", "filename"),
    [("image", photo_jpeg(), "photo.jpg"), ("file", b"%PDF-1.4\n" + bytes(500), "报价单.pdf")],
)
def test_an_agents_media_reaches_a_kf_customer_through_upload_and_send_msg(
    client: Client, kf_account: WechatAccount, fake_wechat: FakeWeChat, kind: str, data: bytes, filename: str
) -> None:
    conversation = kf_customer_writes(client, fake_wechat)

    reply = agent_sends(conversation, data, filename)

    assert reply.status == Message.Status.DELIVERED, reply.error
    [upload] = fake_wechat.media.uploads
    assert (upload.app_id, upload.kind, upload.filename) == (CORP_ID, kind, filename)
    sent = fake_wechat.sent[-1]
    assert (sent.api, sent.kind, sent.touser, sent.open_kfid) == ("kf", kind, KF_USER, OPEN_KFID)
    assert sent.msgid == f"desk{reply.pk}_0"


def test_kf_media_is_not_sent_while_a_wecom_servicer_has_the_session(
    client: Client, kf_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    conversation = kf_customer_writes(client, fake_wechat)
    WechatContact.objects.filter(user_id=KF_USER).update(kf_state=3)

    reply = agent_sends(conversation, photo_jpeg(), "photo.jpg")

    assert reply.status == Message.Status.FAILED
    assert fake_wechat.media.uploads == []


# --- the fake enforces WeChat's rules -------------------------------------------------------------


@pytest.fixture
def oa_token(fake_wechat: FakeWeChat) -> str:
    return client.oa_token_fetch(app_id=OA_APP_ID, secret="s").access_token


@pytest.fixture
def wecom_token(fake_wechat: FakeWeChat) -> str:
    return client.wecom_token_fetch(corp_id=CORP_ID, secret="s").access_token


@pytest.mark.parametrize(
    ("api", "kind", "data", "errcode"),
    [
        pytest.param("oa", "file", b"%PDF-1.4", 40004, id="oa-has-no-file-type"),
        pytest.param("wecom", "thumb", photo_jpeg(), 40004, id="wecom-has-no-thumb-type"),
        pytest.param("oa", "image", "不是图片".encode(), 40005, id="text-as-image"),
        pytest.param("wecom", "voice", AMR + bytes(2 * 1024 * 1024), 40006, id="voice-over-2mb"),
        pytest.param("oa", "thumb", photo_jpeg((1200, 1200)), 40006, id="thumb-over-64kb"),
    ],
)
@pytest.mark.django_db
def test_the_fake_refuses_uploads_wechat_refuses(
    fake_wechat: FakeWeChat, oa_token: str, wecom_token: str, api: str, kind: str, data: bytes, errcode: int
) -> None:
    token = oa_token if api == "oa" else wecom_token
    with pytest.raises(client.PermanentApiError) as refused:
        client.media_upload(api=api, access_token=token, kind=kind, data=data, filename="x", content_type="")  # type: ignore[arg-type]
    assert refused.value.errcode == errcode


@pytest.mark.django_db
def test_the_fake_sends_only_media_it_issued_to_that_account(
    fake_wechat: FakeWeChat, oa_token: str, wecom_token: str
) -> None:
    fake_wechat.user_wrote(OPENID)
    wecom_image = client.media_upload(
        api="wecom", access_token=wecom_token, kind="image", data=photo_jpeg(), filename="a.jpg", content_type=""
    )
    for media_id in ("never-issued", wecom_image):
        with pytest.raises(client.PermanentApiError) as refused:
            client.oa_custom_send_media(access_token=oa_token, openid=OPENID, kind="image", media_id=media_id)
        assert refused.value.errcode == 40007
    oa_image = client.media_upload(
        api="oa", access_token=oa_token, kind="image", data=photo_jpeg(), filename="a.jpg", content_type=""
    )
    with pytest.raises(client.PermanentApiError) as wrong_kind:
        client.oa_custom_send_media(access_token=oa_token, openid=OPENID, kind="voice", media_id=oa_image)
    assert wrong_kind.value.errcode == 40007
    with pytest.raises(client.PermanentApiError) as no_files:
        client.oa_custom_send_media(access_token=oa_token, openid=OPENID, kind="file", media_id=oa_image)
    assert no_files.value.errcode == 40008
    client.oa_custom_send_media(access_token=oa_token, openid=OPENID, kind="image", media_id=oa_image)
    assert [(s.kind, s.content) for s in fake_wechat.sent] == [("image", oa_image)]


def test_transient_delivery_errors_are_transient(
    client: Client, kf_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    conversation = kf_customer_writes(client, fake_wechat)
    fake_wechat.fail_next("/cgi-bin/media/upload")
    outbound = OutboundMedia(
        message_id=998,
        conversation_id=conversation.pk,
        channel=WECOM_KF,
        customer_external_id=f"{OPEN_KFID}:{KF_USER}",
        kind="image",
        attachment_id=2,
        content_type="image/jpeg",
        filename="a.jpg",
        data=photo_jpeg(),
    )

    with pytest.raises(TransientDeliveryError):
        get_adapter(WECOM_KF).send(outbound)
    assert fake_wechat.media.uploads == []
