"""Media between a customer and an agent, in Chromium against the real stack: an image the customer
sends from the simulator shows as a thumbnail in the console and enlarges on click; an image the
agent attaches is read, moderated, delivered, and shows on the customer's page.

The helpers (``simulator_sends_image``, ``console_thumbnail``, ``enlarge``) serve any channel:
whatever brought the image in, the console shows it the same way.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User

from apps.conversations import events
from apps.conversations.media.sniff import media_inspect
from apps.conversations.media.store import attachment_write
from apps.conversations.models import Attachment, Conversation, Message
from apps.moderation import services as moderation
from apps.moderation.models import Flag, Term
from apps.wechat.models import WechatAccount
from peers.fake_wechat import FakeWeChat
from tests.console.readers import READER, png_saying
from tests.console.test_console_browser import WORKER_ENV, agent_page, customer_page, customer_says
from tests.console.test_media import MP3, PDF, failed, stored
from tests.console.test_pages import a_conversation, a_message
from tests.e2e.conftest import SCREENSHOTS
from tests.support.processes import LiveProcess
from tests.support.waiting import wait_for
from tests.wechat.conftest import OA_APP_ID
from tests.wechat.signing import oa_message_xml, oa_request

pytestmark = [pytest.mark.browser, pytest.mark.live]

# Images are read by the words in their PNG text chunk: no OCR model in the worker or the web process.
MEDIA_ENV = {**WORKER_ENV, "DESK_IMAGE_READER": READER}


@pytest.fixture
def live_env(live_env: dict[str, str]) -> dict[str, str]:
    # The web process reads the agent's images (outbound moderation) with the same reader.
    live_env["DESK_IMAGE_READER"] = READER
    return live_env


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)


def simulator_sends_image(page: Any, data: bytes, name: str = "photo.png") -> None:
    """The simulated customer picks an image; it appears in their chat as a picture."""
    count = page.locator("#messages li.in .media img").count()
    page.set_input_files("#image", files=[{"name": name, "mimeType": "image/png", "buffer": data}])
    page.wait_for_function(f"document.querySelectorAll('#messages li.in .media img').length > {count}")


def console_thumbnail(desk: Any, message_id: int, *, timeout: float = 30_000) -> Any:
    """The message's thumbnail in the open conversation, once the picture has loaded."""
    thumb = desk.locator(f"#timeline li.msg[data-id='{message_id}'] .media-thumb img")
    thumb.wait_for(timeout=timeout)
    desk.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle(), timeout=timeout)
    return thumb


def enlarge(desk: Any, thumb: Any) -> tuple[int, int]:
    """Click the thumbnail; the dialog shows the full picture. Returns its natural size."""
    thumb.click()
    desk.wait_for_selector("#media-dialog[open]")
    desk.wait_for_function(
        "() => { const i = document.getElementById('media-full'); return i.complete && i.naturalWidth > 0; }"
    )
    width, height = desk.evaluate(
        "() => { const i = document.getElementById('media-full'); return [i.naturalWidth, i.naturalHeight]; }"
    )
    return width, height


def img_loaded(page: Any, selector: str) -> bool:
    return page.evaluate(
        "(s) => [...document.querySelectorAll(s)].some((i) => i.complete && i.naturalWidth > 0)", selector
    )


def test_an_image_from_the_simulator_enlarges_in_the_console_and_the_agent_s_image_reaches_the_customer(
    browser: Any,
    asgi_server: str,
    celery_worker_process: Callable[..., LiveProcess],
    make_agent: Callable[[str], User],
) -> None:
    celery_worker_process(**MEDIA_ENV)
    make_agent("alice")
    moderation.term_save(term=Term(text="代开发票", category="fraud", action="block"))
    customer = customer_page(browser, asgi_server, "陈七")
    customer_says(customer, "转人工")

    # When the customer sends a photo of their order
    simulator_sends_image(customer, png_saying("订单号 A-2024-0815", size=(1200, 900), color=(230, 120, 40)))
    sent = Attachment.objects.get(message__direction=Message.Direction.INBOUND)
    wait_for(lambda: Attachment.objects.get(pk=sent.pk).ocr_status == Attachment.OcrStatus.READ, what="reading")
    conversation = Conversation.objects.get()

    # Then the agent sees it as a thumbnail with the text read from it, and it enlarges on click
    desk = agent_page(browser, asgi_server, "alice", f"/admin/console/workspace/conversations/{conversation.pk}/")
    desk.wait_for_selector("#link-status[data-state=online]")
    thumb = console_thumbnail(desk, sent.message_id)
    assert desk.evaluate("(img) => img.naturalWidth", thumb.element_handle()) == 320  # the thumbnail, not the file
    assert "订单号 A-2024-0815" in desk.inner_text(f"#timeline li.msg[data-id='{sent.message_id}'] .media-text")
    shot(desk, "console-media-thumbnail.png")
    assert enlarge(desk, thumb) == (1200, 900)
    shot(desk, "console-media-lightbox.png")
    desk.keyboard.press("Escape")
    desk.wait_for_selector("#media-dialog:not([open])", state="attached")

    # When the agent takes over and attaches a picture
    desk.click("#take-over")
    desk.wait_for_selector("#conv-mode[data-mode=human]")
    desk.wait_for_selector("#attach:not(.disabled)")
    reply_png = png_saying("退货地址：上海市浦东新区", size=(600, 400), color=(40, 160, 90))
    desk.set_input_files("#attach-file", files=[{"name": "地址.png", "mimeType": "image/png", "buffer": reply_png}])

    # Then it is delivered and shows in the console and on the customer's phone
    desk.wait_for_selector("#timeline li.msg.agent .media-thumb img", timeout=15_000)
    reply = Message.objects.get(author_kind=Message.AuthorKind.AGENT)
    wait_for(lambda: Message.objects.get(pk=reply.pk).status == Message.Status.DELIVERED, what="delivery")
    assert reply.attachments.get().ocr_text == "退货地址：上海市浦东新区"
    customer.wait_for_selector("#messages li.out[data-author=agent] .media img", timeout=15_000)
    customer.wait_for_function(
        "() => [...document.querySelectorAll('#messages li.out[data-author=agent] .media img')]"
        ".some((i) => i.complete && i.naturalWidth > 0)"
    )
    assert img_loaded(customer, "#messages li.in .media img")  # the customer's own photo, too
    shot(customer, "simulator-media.png")
    console_thumbnail(desk, reply.pk)
    shot(desk, "console-media-sent.png")

    # And a picture with forbidden words is refused with a reason the agent can read
    desk.set_input_files(
        "#attach-file", files=[{"name": "x.png", "mimeType": "image/png", "buffer": png_saying("转人工 代开发票")}]
    )
    desk.wait_for_selector("#console-error:not([hidden])")
    assert desk.inner_text("#console-error").strip()
    assert Message.objects.filter(author_kind=Message.AuthorKind.AGENT).count() == 1
    shot(desk, "console-media-refused.png")

    # And on a phone-sized screen the conversation still reads
    desk.set_viewport_size({"width": 390, "height": 844})
    desk.reload()
    console_thumbnail(desk, sent.message_id)
    shot(desk, "console-media-390.png")
    width = desk.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 420, width


def test_files_voice_notes_failures_and_a_flagged_image_in_the_console(
    browser: Any, asgi_server: str, make_agent: Callable[[str], User]
) -> None:
    make_agent("alice")
    conversation = a_conversation("周八")
    stored(a_message(conversation, "[文件] 发票.pdf"), PDF, kind="file", filename="发票.pdf")
    stored(a_message(conversation, "[语音]"), MP3, kind="voice", ocr_text="我想退货", ocr_status="read")
    failed(a_message(conversation, "[图片]"), code="expired")
    flagged = a_message(conversation, "[图片]")
    stored(flagged, png_saying(size=(900, 600), color=(120, 60, 200)), ocr_text="加微信领红包", ocr_status="read")
    _flag_image_text(flagged, "加微信领红包", "加微信")
    later = a_message(conversation, "[图片]")  # a WeChat picture not fetched yet
    on_its_way = Attachment.objects.create(message=later, kind="image", status=Attachment.Status.PENDING)

    # The conversation: a download link, a player with the words heard, the reason a picture is missing
    desk = agent_page(browser, asgi_server, "alice", f"/admin/console/workspace/conversations/{conversation.pk}/")
    desk.wait_for_selector("#timeline .media-error")
    assert desk.get_attribute("#timeline a.media-file", "download") == ""
    assert desk.inner_text("#timeline a.media-file") == "发票.pdf"
    assert desk.locator("#timeline .media-voice audio[controls]").count() == 1
    assert "我想退货" in desk.inner_text("#timeline .media-voice .media-text")
    assert "expired" in desk.inner_text("#timeline .media-error") or "过期" in desk.inner_text("#timeline .media-error")
    desk.wait_for_selector(f"#timeline li.msg[data-id='{later.pk}'] .media-pending")
    shot(desk, "console-media-kinds.png")

    # When the picture arrives, the message shows it without a reload
    fetched = png_saying(size=(300, 200), color=(200, 30, 30))
    attachment_write(on_its_way, data=fetched, info=media_inspect(fetched, kind="image"))
    events.conversation_changed(conversation_id=conversation.pk, message_id=later.pk)
    console_thumbnail(desk, later.pk, timeout=20_000)
    assert desk.locator(f"#timeline li.msg[data-id='{later.pk}'] .media").count() == 1

    # The queue: the flagged words came from a picture; its thumbnail is beside them and enlarges
    desk.goto(f"{asgi_server}/admin/console/workspace/")
    thumb = desk.locator("#queue tr.flag-row .media-thumb img")
    thumb.wait_for()
    desk.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    shot(desk, "console-media-queue.png")
    assert enlarge(desk, thumb) == (900, 600)
    desk.keyboard.press("c")  # the queue's keys wait while the picture is open
    desk.keyboard.press("Escape")
    assert desk.locator("#queue tr.flag-row").count() == 1


def _flag_image_text(message: Message, text: str, term: str) -> None:
    """A flag on what OCR read from an image (the message body is only "[图片]")."""
    start = text.index(term)
    hit = {"term": term, "category": "fraud", "severity": 4, "action": "flag", "span": [start, start + len(term)]}
    Flag.objects.create(message=message, direction="in", verdict="review", text=text, evidence={"hits": [hit]})


def test_an_image_from_an_official_account_shows_in_the_console_and_the_agent_s_image_is_uploaded_and_sent(
    browser: Any,
    asgi_server: str,
    celery_worker_process: Callable[..., LiveProcess],
    make_agent: Callable[[str], User],
    fake_wechat: FakeWeChat,
    oa_account: WechatAccount,
) -> None:
    celery_worker_process(**MEDIA_ENV, WECHAT_OA_API_BASE_URL=fake_wechat.url)
    make_agent("alice")
    openid = "oBrowserMedia000000000000001"
    fake_wechat.user_wrote(openid)
    photo = png_saying("快递单号 SF1234567890", size=(1000, 750), color=(60, 90, 200))
    media_id = fake_wechat.media.register(OA_APP_ID, "image", photo)

    # When WeChat's servers call back with a customer's image, signed and encrypted as they do
    xml = oa_message_xml(openid=openid, msg_type="image", msg_id="77001", fields={"MediaId": media_id})
    path, body = oa_request(xml, aes=True)
    response = httpx.post(f"{asgi_server}{path}", content=body, headers={"Content-Type": "text/xml"}, timeout=10)
    assert (response.status_code, response.text) == (200, "success")

    # Then the worker fetches it from WeChat's media API, reads it, and the console shows it
    inbound = Message.objects.get(channel_message_id=f"{OA_APP_ID}:77001")
    wait_for(lambda: inbound.attachments.get().ocr_status == Attachment.OcrStatus.READ, what="fetch and read")
    assert fake_wechat.media.gets == [media_id]
    page = f"/admin/console/workspace/conversations/{inbound.conversation_id}/"
    desk = agent_page(browser, asgi_server, "alice", page)
    desk.wait_for_selector("#link-status[data-state=online]")
    thumb = console_thumbnail(desk, inbound.pk)
    assert "SF1234567890" in desk.inner_text(f"#timeline li.msg[data-id='{inbound.pk}'] .media-text")
    assert enlarge(desk, thumb) == (1000, 750)
    desk.keyboard.press("Escape")
    shot(desk, "console-media-official-account.png")

    # When the agent takes over and attaches a picture
    desk.click("#take-over")
    desk.wait_for_selector("#conv-mode[data-mode=human]")
    desk.wait_for_selector("#attach:not(.disabled)")
    reply_png = png_saying("退货地址：上海市浦东新区", size=(600, 400), color=(40, 160, 90))
    desk.set_input_files("#attach-file", files=[{"name": "地址.png", "mimeType": "image/png", "buffer": reply_png}])

    # Then WeChat's API receives the upload, then a custom-send of that media_id to the customer
    wait_for(lambda: any(s.kind == "image" for s in fake_wechat.sent), what="the image sent", timeout=20)
    (upload,) = fake_wechat.media.uploads
    assert (upload.kind, upload.data) == ("image", reply_png)
    (sent,) = [s for s in fake_wechat.sent if s.kind == "image"]
    assert (sent.api, sent.touser) == ("custom", openid)
    assert fake_wechat.media.media[sent.content].data == reply_png
    reply = Message.objects.get(author_kind=Message.AuthorKind.AGENT)
    wait_for(lambda: Message.objects.get(pk=reply.pk).status == Message.Status.DELIVERED, what="delivered")
    console_thumbnail(desk, reply.pk)
