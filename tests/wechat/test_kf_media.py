"""WeCom 客服 media and rich messages: pulled with sync_msg after an encrypted callback, files fetched
from the fake's cgi-bin/media/get by the processing task, everything else made readable text."""

import time
from typing import Any

import pytest
from django.test import Client

from apps.conversations.models import Attachment, Message
from apps.wechat.models import WechatAccount
from peers.fake_wechat import FakeWeChat
from tests.wechat.conftest import CORP_ID
from tests.wechat.media_files import AMR, MP4, text_png, truncated_jpeg
from tests.wechat.signing import kf_event_xml, kf_post

OPEN_KFID = "wkMediaKf"
USER = "wmMediaKfUser"
pytestmark = pytest.mark.usefixtures("eager_tasks", "media_root")


def customer_sends(client: Client, fake: FakeWeChat, msgtype: str, part: dict[str, Any], *, msgid: str) -> Message:
    message = {
        "msgid": msgid,
        "open_kfid": OPEN_KFID,
        "external_userid": USER,
        "send_time": int(time.time()),
        "origin": 3,
        "msgtype": msgtype,
        msgtype: part,
    }
    fake.add_kf_messages(OPEN_KFID, [message])
    response = kf_post(client, kf_event_xml(open_kfid=OPEN_KFID, callback_token=f"tok-{msgid}"))
    assert response.status_code == 200  # type: ignore[attr-defined]
    return Message.objects.get(channel_message_id=f"{CORP_ID}:{msgid}")


def test_an_image_is_fetched_read_and_its_text_reaches_the_answer(
    client: Client, kf_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    media_id = fake_wechat.media.register(CORP_ID, "image", text_png(["会员积分怎么用"]))

    message = customer_sends(client, fake_wechat, "image", {"media_id": media_id}, msgid="k1")

    attachment = message.attachments.get()
    assert message.body == "[图片]"
    assert attachment.source == {"app_id": CORP_ID, "media_id": media_id}
    assert attachment.status == Attachment.Status.STORED
    assert "积分" in attachment.ocr_text
    message.refresh_from_db()
    assert message.status == Message.Status.ANSWERED
    [sent] = fake_wechat.sent
    assert (sent.api, sent.touser) == ("kf", USER)
    assert "积分" in sent.content


@pytest.mark.parametrize(
    ("msgtype", "data", "content_type", "filename"),
    [
        pytest.param("voice", AMR, "audio/amr", "", id="voice"),
        pytest.param("video", MP4, "video/mp4", "", id="video"),
        pytest.param("file", b"%PDF-1.4\n" + bytes(300), "application/pdf", "合同.pdf", id="file"),
    ],
)
def test_voice_video_and_files_are_kept_for_a_person_who_is_told_once(
    client: Client,
    kf_account: WechatAccount,
    fake_wechat: FakeWeChat,
    settings: object,
    msgtype: str,
    data: bytes,
    content_type: str,
    filename: str,
) -> None:
    media_id = fake_wechat.media.register(CORP_ID, msgtype, data, filename=filename, content_type=content_type)

    first = customer_sends(client, fake_wechat, msgtype, {"media_id": media_id}, msgid="k2")
    customer_sends(client, fake_wechat, msgtype, {"media_id": media_id}, msgid="k3")

    attachment = first.attachments.get()
    assert (attachment.kind, attachment.status, attachment.content_type) == (msgtype, "stored", content_type)
    assert attachment.filename == filename  # WeCom names a file in Content-Disposition only
    first.refresh_from_db()
    assert first.status == Message.Status.HANDED_OVER
    assert [s.content for s in fake_wechat.sent] == [settings.DESK_MEDIA_HUMAN_NOTICE]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        pytest.param(lambda fake: "expired-media-id", "expired", id="expired-40007"),
        pytest.param(lambda fake: fake.media.not_found.add("gone") or "gone", "not_found", id="http-404"),
        pytest.param(lambda fake: fake.media.register(CORP_ID, "image", truncated_jpeg()), "corrupt", id="truncated"),
        # A media_id of another account is, for this one, no media_id at all.
        pytest.param(lambda fake: fake.media.register("wxsomeoneelse", "image", b"x"), "expired", id="other-account"),
    ],
)
def test_bad_media_is_recorded_and_handed_over(
    client: Client, kf_account: WechatAccount, fake_wechat: FakeWeChat, setup: Any, code: str
) -> None:
    message = customer_sends(client, fake_wechat, "image", {"media_id": setup(fake_wechat)}, msgid="k4")

    attachment = message.attachments.get()
    assert (attachment.status, attachment.error_code) == ("failed", code)
    message.refresh_from_db()
    assert message.status == Message.Status.HANDED_OVER
    assert len(fake_wechat.sent) == 1  # the notice


@pytest.mark.parametrize(
    ("msgtype", "part", "body"),
    [
        pytest.param(
            "location",
            {"latitude": 23.1, "longitude": 113.3, "name": "天河城", "address": "广州市天河路208号"},
            "[位置] 天河城 广州市天河路208号 (纬度 23.1, 经度 113.3)",
            id="location",
        ),
        pytest.param(
            "link",
            {"title": "物流查询", "desc": "顺丰单号", "url": "https://example.com/t", "pic_url": "https://x/p.jpg"},
            "[链接] 物流查询\n顺丰单号\nhttps://example.com/t",
            id="link",
        ),
        pytest.param(
            "miniprogram",
            {"title": "积分商城", "appid": "wx8bd80126147dfAAA", "pagepath": "pages/index", "thumb_media_id": "t"},
            "[小程序] 积分商城\nAppID: wx8bd80126147dfAAA\npages/index",
            id="miniprogram",
        ),
        pytest.param("business_card", {"userid": "zhangsan"}, "[名片] zhangsan", id="business-card"),
        pytest.param(
            "channels",
            {"sub_type": 1, "nickname": "官方号", "title": "新品发布"},
            "[视频号动态] 官方号\n新品发布",
            id="channels",
        ),
    ],
)
def test_rich_messages_become_text_the_bot_answers(
    client: Client, kf_account: WechatAccount, fake_wechat: FakeWeChat, msgtype: str, part: dict[str, Any], body: str
) -> None:
    message = customer_sends(client, fake_wechat, msgtype, part, msgid="k5")

    assert message.body == body
    assert not Attachment.objects.exists()
    message.refresh_from_db()
    assert message.status == Message.Status.ANSWERED
    assert body.splitlines()[0] in fake_wechat.sent[0].content
