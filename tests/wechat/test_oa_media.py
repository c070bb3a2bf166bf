"""Official Account media: callbacks signed (and in safe mode encrypted) as WeChat does, the files
fetched from the fake's cgi-bin/media/get by the processing task, checked, read and answered."""

import pytest
from django.test import Client

from apps.conversations.models import Attachment, Message
from apps.wechat.models import WechatAccount
from peers.fake_wechat import FakeWeChat
from tests.support.retries import retried
from tests.wechat.conftest import OA_APP_ID
from tests.wechat.media_files import AMR, MP4, photo_jpeg, png_bomb, text_png, truncated_jpeg
from tests.wechat.signing import oa_message_xml, oa_post

OPENID = "oMediaUser0000000000000000001"
AES = pytest.mark.parametrize("aes", [False, True], ids=["plain", "safe-mode"])
pytestmark = pytest.mark.usefixtures("eager_tasks", "media_root")


def post(client: Client, msg_type: str, *, msg_id: str, aes: bool = False, **fields: str) -> None:
    response = oa_post(client, oa_message_xml(openid=OPENID, msg_type=msg_type, msg_id=msg_id, fields=fields), aes=aes)
    assert (response.status_code, response.content) == (200, b"success")  # type: ignore[attr-defined]


def inbound(msg_id: str) -> Message:
    return Message.objects.get(channel_message_id=f"{OA_APP_ID}:{msg_id}")


def main_attachment(msg_id: str) -> Attachment:
    return Attachment.objects.get(message=inbound(msg_id), role=Attachment.Role.MAIN)


def retries_run(msg_id: str) -> None:
    retried(inbound(msg_id).pk)


@AES
def test_an_image_is_fetched_read_and_its_text_reaches_the_answer(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, aes: bool
) -> None:
    fake_wechat.user_wrote(OPENID)
    media_id = fake_wechat.media.register(OA_APP_ID, "image", text_png(["退货地址在哪里"]))

    post(client, "image", msg_id="1001", aes=aes, MediaId=media_id, PicUrl="http://mmbiz.invalid/x")

    attachment = main_attachment("1001")
    assert inbound("1001").body == "[图片]"
    assert attachment.status == Attachment.Status.STORED
    assert attachment.source == {"app_id": OA_APP_ID, "media_id": media_id, "pic_url": "http://mmbiz.invalid/x"}
    assert attachment.content_type == "image/png"
    assert "退货地址" in attachment.ocr_text
    assert fake_wechat.media.gets == [media_id]
    assert inbound("1001").status == Message.Status.ANSWERED
    [sent] = fake_wechat.sent
    assert (sent.api, sent.touser) == ("custom", OPENID)
    assert "退货地址" in sent.content  # the echo answerer quotes the question it was given


def test_an_image_wechat_no_longer_has_is_fetched_from_its_pic_url(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.user_wrote(OPENID)
    pic_url = fake_wechat.url + fake_wechat.media.picture(text_png(["营业时间"]))

    post(client, "image", msg_id="1002", MediaId="MEDIA_expired", PicUrl=pic_url)

    attachment = main_attachment("1002")
    assert attachment.status == Attachment.Status.STORED
    assert "营业时间" in attachment.ocr_text
    assert fake_wechat.media.gets == ["MEDIA_expired"]  # asked first, answered 40007
    assert "营业时间" in fake_wechat.sent[0].content


@AES
def test_a_voice_note_is_answered_from_wechat_recognition_and_its_amr_kept(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, aes: bool
) -> None:
    fake_wechat.user_wrote(OPENID)
    media_id = fake_wechat.media.register(OA_APP_ID, "voice", AMR)

    post(client, "voice", msg_id="1003", aes=aes, MediaId=media_id, Format="amr", Recognition="我想查询订单")

    attachment = main_attachment("1003")
    assert (attachment.status, attachment.content_type) == (Attachment.Status.STORED, "audio/amr")
    assert (attachment.ocr_text, attachment.text_source) == ("我想查询订单", "channel")
    assert attachment.source["format"] == "amr"
    assert fake_wechat.media.gets == [media_id]
    assert "我想查询订单" in fake_wechat.sent[0].content


def test_a_voice_note_nobody_transcribed_goes_to_a_person(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, settings: object
) -> None:
    fake_wechat.user_wrote(OPENID)
    media_id = fake_wechat.media.register(OA_APP_ID, "voice", AMR)

    post(client, "voice", msg_id="1004", MediaId=media_id, Format="amr")

    assert main_attachment("1004").ocr_status == Attachment.OcrStatus.UNREADABLE
    assert inbound("1004").status == Message.Status.HANDED_OVER
    assert [s.content for s in fake_wechat.sent] == [settings.DESK_MEDIA_HUMAN_NOTICE]  # type: ignore[attr-defined]


@pytest.mark.parametrize("msg_type", ["video", "shortvideo"])
@AES
def test_a_video_and_its_cover_are_kept_for_a_person(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, settings: object, msg_type: str, aes: bool
) -> None:
    fake_wechat.user_wrote(OPENID)
    video = fake_wechat.media.register(OA_APP_ID, "video", MP4)
    thumb = fake_wechat.media.register(OA_APP_ID, "thumb", photo_jpeg((96, 96)))

    post(client, msg_type, msg_id="1005", aes=aes, MediaId=video, ThumbMediaId=thumb)

    attachments = {a.role: a for a in inbound("1005").attachments.all()}
    assert attachments["main"].kind == "video"
    assert (attachments["main"].status, attachments["main"].content_type) == ("stored", "video/mp4")
    assert (attachments["thumb"].status, attachments["thumb"].content_type) == ("stored", "image/jpeg")
    assert sorted(fake_wechat.media.gets) == sorted([video, thumb])
    assert inbound("1005").status == Message.Status.HANDED_OVER
    assert [s.content for s in fake_wechat.sent] == [settings.DESK_MEDIA_HUMAN_NOTICE]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("msg_type", "fields", "body"),
    [
        pytest.param(
            "location",
            {"Location_X": "23.134521", "Location_Y": "113.358803", "Scale": "20", "Label": "广州市天河区"},
            "[位置] 广州市天河区 (纬度 23.134521, 经度 113.358803)",
            id="location",
        ),
        pytest.param(
            "link",
            {"Title": "订单截图", "Description": "请帮我看看", "Url": "https://example.com/a"},
            "[链接] 订单截图\n请帮我看看\nhttps://example.com/a",
            id="link",
        ),
    ],
)
@AES
def test_locations_and_links_become_text_the_bot_answers(
    client: Client,
    oa_account: WechatAccount,
    fake_wechat: FakeWeChat,
    msg_type: str,
    fields: dict[str, str],
    body: str,
    aes: bool,
) -> None:
    fake_wechat.user_wrote(OPENID)

    post(client, msg_type, msg_id="1006", aes=aes, **fields)

    assert inbound("1006").body == body
    assert not Attachment.objects.exists()
    assert inbound("1006").status == Message.Status.ANSWERED
    assert body.splitlines()[0] in fake_wechat.sent[0].content


@AES
def test_a_file_is_recorded_with_its_name_and_handed_to_a_person(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, aes: bool
) -> None:
    fake_wechat.user_wrote(OPENID)

    post(client, "file", msg_id="1007", aes=aes, Title="发票.pdf", FileKey="fk-1", FileMd5="d41d8", FileTotalLen="5120")

    attachment = main_attachment("1007")
    assert inbound("1007").body == "[文件] 发票.pdf"
    assert (attachment.kind, attachment.filename) == ("file", "发票.pdf")
    assert attachment.source["file_key"] == "fk-1"
    # An Official Account has no API that hands out a chat file: recorded, and a person takes it.
    assert (attachment.status, attachment.error_code) == ("failed", "unavailable")
    assert inbound("1007").status == Message.Status.HANDED_OVER


def unannounced(fake: FakeWeChat, data: bytes) -> str:
    """A file served without Content-Length: only reading it tells its size."""
    fake.media.announce_length = False
    return fake.media.register(OA_APP_ID, "image", data)


@pytest.mark.parametrize(
    ("prepare", "code", "gets"),
    [
        pytest.param(
            lambda fake: fake.media.not_found.add("MEDIA_gone") or "MEDIA_gone", "not_found", 1, id="http-404"
        ),
        pytest.param(lambda fake: "MEDIA_never_issued", "expired", 1, id="expired-40007"),
        pytest.param(
            lambda fake: fake.media.register(OA_APP_ID, "image", photo_jpeg((900, 900))), "too_large", 1, id="oversized"
        ),
        pytest.param(
            lambda fake: unannounced(fake, photo_jpeg((900, 900))),
            "too_large",
            1,
            id="oversized-streamed",
        ),
        pytest.param(
            lambda fake: fake.media.register(OA_APP_ID, "image", "你好".encode() * 100, content_type="image/jpeg"),
            "wrong_type",
            1,
            id="text-as-image",
        ),
        pytest.param(
            lambda fake: fake.media.register(OA_APP_ID, "image", truncated_jpeg()), "corrupt", 1, id="truncated-jpeg"
        ),
        pytest.param(lambda fake: fake.media.register(OA_APP_ID, "image", png_bomb()), "corrupt", 1, id="png-bomb"),
    ],
)
def test_bad_media_is_recorded_handed_over_and_the_customer_told_once(
    client: Client,
    oa_account: WechatAccount,
    fake_wechat: FakeWeChat,
    settings: object,
    prepare: object,
    code: str,
    gets: int,
) -> None:
    settings.DESK_MEDIA_MAX_BYTES = 60_000  # type: ignore[attr-defined]
    fake_wechat.user_wrote(OPENID)
    media_id = prepare(fake_wechat)  # type: ignore[operator]

    post(client, "image", msg_id="2001", MediaId=media_id)
    post(client, "image", msg_id="2002", MediaId=media_id)  # a second one within the notice window

    for msg_id in ("2001", "2002"):
        attachment = main_attachment(msg_id)
        assert (attachment.status, attachment.error_code) == ("failed", code), attachment.error
        assert attachment.fetch_attempts == gets
        assert inbound(msg_id).status == Message.Status.HANDED_OVER
    assert [s.content for s in fake_wechat.sent] == [settings.DESK_MEDIA_HUMAN_NOTICE]  # type: ignore[attr-defined]


def test_a_slow_download_is_retried_then_recorded_as_timed_out(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat, settings: object
) -> None:
    settings.DESK_MEDIA_FETCH_TIMEOUT_SECONDS = 0.3  # type: ignore[attr-defined]
    fake_wechat.user_wrote(OPENID)
    media_id = fake_wechat.media.register(OA_APP_ID, "image", photo_jpeg())
    fake_wechat.media.drip_s = 0.1  # 1 KB every 100 ms: each read is quick, the whole is not

    post(client, "image", msg_id="2003", MediaId=media_id)
    assert main_attachment("2003").status == Attachment.Status.PENDING  # the first try timed out
    retries_run("2003")

    attachment = main_attachment("2003")
    assert (attachment.status, attachment.error_code) == ("failed", "timeout")
    assert attachment.fetch_attempts == settings.DESK_MEDIA_FETCH_ATTEMPTS  # type: ignore[attr-defined]
    assert fake_wechat.media.gets == [media_id] * settings.DESK_MEDIA_FETCH_ATTEMPTS  # type: ignore[attr-defined]
    assert inbound("2003").status == Message.Status.HANDED_OVER
    assert [s.content for s in fake_wechat.sent] == [settings.DESK_MEDIA_HUMAN_NOTICE]  # type: ignore[attr-defined]


def test_a_download_that_fails_once_is_retried_and_read(
    client: Client, oa_account: WechatAccount, fake_wechat: FakeWeChat
) -> None:
    fake_wechat.user_wrote(OPENID)
    media_id = fake_wechat.media.register(OA_APP_ID, "image", text_png(["发货时间"]))
    fake_wechat.fail_next("/cgi-bin/media/get")  # a 502 once

    post(client, "image", msg_id="2004", MediaId=media_id)
    retries_run("2004")

    attachment = main_attachment("2004")
    assert (attachment.status, attachment.fetch_attempts) == ("stored", 2)
    assert inbound("2004").status == Message.Status.ANSWERED
    assert "发货时间" in fake_wechat.sent[0].content
