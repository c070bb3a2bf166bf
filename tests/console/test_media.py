"""Media in the console: who may fetch a file and how it is served, what the timeline says about
it (an agent sending one: test_media_send.py)."""

import io
import sys
import types
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from PIL import Image

from apps.conversations.media.sniff import media_inspect
from apps.conversations.media.store import attachment_discard, attachment_write
from apps.conversations.models import Attachment, Conversation, Customer, Message
from tests.console.readers import png_saying
from tests.console.test_pages import a_conversation, a_flag, a_message

PDF = b"%PDF-1.4\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 40 + b"%%EOF\n"
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x0f" + bytes(range(256)) * 8
AMR = b"#!AMR\n" + bytes(range(256)) * 4


def logged_in(user: User) -> Client:
    """A signed-in client that reads English (the staff default is Chinese)."""
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def media_url(attachment: Attachment) -> str:
    return reverse("admin:console_media", args=[attachment.pk])


def stored(message: Message, data: bytes, *, kind: str = "image", filename: str = "", **fields: Any) -> Attachment:
    attachment = Attachment.objects.create(message=message, kind=kind, filename=filename, **fields)
    attachment_write(attachment, data=data, info=media_inspect(data, kind=kind))
    return attachment


def failed(message: Message, *, kind: str = "image", code: str = "expired") -> Attachment:
    return Attachment.objects.create(
        message=message, kind=kind, status=Attachment.Status.FAILED, error_code=code, error="errcode 40007"
    )


@pytest.fixture
def photo(db: None) -> tuple[Attachment, bytes]:
    data = png_saying("你好", size=(1200, 800))
    return stored(a_message(a_conversation(), "[图片]"), data), data


# ---- the file view -----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_and_staff_who_are_not_agents_refused(
    photo: tuple[Attachment, bytes], outsider: User
) -> None:
    attachment, _ = photo

    anonymous = Client().get(media_url(attachment))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("admin:login"))
    assert logged_in(outsider).get(media_url(attachment)).status_code == 403


def test_an_agent_gets_the_original_bytes_while_the_disk_holds_only_ciphertext(
    photo: tuple[Attachment, bytes], agent: User
) -> None:
    attachment, data = photo

    response = logged_in(agent).get(media_url(attachment))

    assert response.status_code == 200
    assert response.content == data
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert {"private", "no-store"} <= {part.strip() for part in response["Cache-Control"].split(",")}
    assert response["Content-Disposition"] == f'inline; filename="image-{attachment.pk}.png"'
    assert "Content-Security-Policy" not in response  # an image; everything else is sandboxed
    with attachment.file.open("rb") as handle:
        on_disk = handle.read()
    assert data not in on_disk
    assert b"IHDR" not in on_disk


def test_a_thumbnail_is_a_small_jpeg(photo: tuple[Attachment, bytes], agent: User) -> None:
    attachment, _ = photo

    response = logged_in(agent).get(media_url(attachment) + "?size=thumb")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(response.content)) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == (320, 213)


def test_a_file_is_a_download_with_its_chinese_name_and_a_sandbox(agent: User) -> None:
    attachment = stored(a_message(a_conversation(), "[文件] 报价单.pdf"), PDF, kind="file", filename="报价单.pdf")

    response = logged_in(agent).get(media_url(attachment))

    assert response.content == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''%E6%8A%A5%E4%BB%B7%E5%8D%95.pdf"
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert logged_in(agent).get(media_url(attachment) + "?size=thumb").status_code == 404


def test_a_file_name_cannot_carry_a_path_or_header_tricks(agent: User) -> None:
    name = '../../etc/passwd"\r\nSet-Cookie: x=1'
    attachment = stored(a_message(a_conversation(), "[文件]"), PDF, kind="file", filename=name)

    disposition = logged_in(agent).get(media_url(attachment))["Content-Disposition"]

    assert "\n" not in disposition
    assert "/" not in disposition.split(";", 1)[1]
    assert "passwd" in disposition


def test_a_voice_note_plays_in_the_browser(agent: User, monkeypatch: pytest.MonkeyPatch) -> None:
    message = a_message(a_conversation(), "[语音]")
    mp3 = stored(message, MP3, kind="voice")
    amr = stored(a_message(message.conversation, "[语音]"), AMR, kind="voice")
    converted: list[str] = []

    def to_browser_audio(data: bytes, content_type: str) -> tuple[bytes, str]:
        converted.append(content_type)
        return b"OggS-converted", "audio/ogg"

    # apps/speech/convert.py converts with ffmpeg; its interface is what the console relies on.
    monkeypatch.setitem(sys.modules, "apps.speech.convert", types.SimpleNamespace(to_browser_audio=to_browser_audio))
    client = logged_in(agent)

    as_is = client.get(media_url(mp3))
    assert (as_is["Content-Type"], as_is.content) == ("audio/mpeg", MP3)
    playable = client.get(media_url(amr))
    assert (playable["Content-Type"], playable.content) == ("audio/ogg", b"OggS-converted")
    assert playable["Content-Disposition"].startswith("inline")
    assert playable["Content-Security-Policy"].startswith("sandbox")
    assert converted == ["audio/amr"]


@pytest.mark.parametrize("state", ["purged", "failed", "pending", "unknown"])
def test_a_file_that_is_not_stored_is_not_found(photo: tuple[Attachment, bytes], agent: User, state: str) -> None:
    attachment, _ = photo
    url = media_url(attachment)
    if state == "purged":
        attachment_discard(attachment)
        attachment.status = Attachment.Status.PURGED
        attachment.save()
    elif state in ("failed", "pending"):
        Attachment.objects.filter(pk=attachment.pk).update(status=state)
    else:
        url = reverse("admin:console_media", args=[attachment.pk + 1000])

    assert logged_in(agent).get(url).status_code == 404


# ---- the timeline and the queue ----------------------------------------------------------------


def timeline(client: Client, conversation: Conversation) -> dict[str, Any]:
    response = client.get(reverse("admin:console_conversation_timeline", args=[conversation.pk]))
    assert response.status_code == 200
    return response.json()


def test_the_timeline_describes_each_message_s_media(agent: User) -> None:
    conversation = a_conversation()
    image = stored(
        a_message(conversation, "[图片]"),
        png_saying(size=(400, 300)),
        ocr_text="订单号 12345",
        ocr_status=Attachment.OcrStatus.READ,
        text_source="ocr",
    )
    failed(a_message(conversation, "[图片]"))
    a_message(conversation, "纯文字")

    messages = timeline(logged_in(agent), conversation)["messages"]

    first, second, third = (m["attachments"] for m in messages)
    assert first == [
        {
            "id": image.pk,
            "kind": "image",
            "role": "main",
            "status": "stored",
            "content_type": "image/png",
            "filename": "",
            "size": image.size_bytes,
            "width": 400,
            "height": 300,
            "error_code": "",
            "error_label": "",
            "error_line": "",
            "text": "订单号 12345",
            "text_source": "ocr",
            "url": media_url(image),
            "thumb_url": media_url(image) + "?size=thumb",
        }
    ]
    assert second[0]["status"] == "failed"
    assert (second[0]["url"], second[0]["thumb_url"], second[0]["text"]) == ("", "", "")
    assert second[0]["error_code"] == "expired"
    assert second[0]["error_label"] == "the channel's media id has expired"
    assert second[0]["error_line"] == "Image could not be received: the channel's media id has expired"
    assert third == []


def test_a_message_whose_file_was_still_on_its_way_is_sent_again_when_asked(agent: User) -> None:
    conversation = a_conversation()
    message = a_message(conversation, "[图片]")
    waiting = Attachment.objects.create(message=message, kind="image", status=Attachment.Status.PENDING)
    later = a_message(conversation, "还在吗")
    client = logged_in(agent)
    url = reverse("admin:console_conversation_timeline", args=[conversation.pk])

    first = client.get(url).json()["messages"][0]["attachments"][0]
    assert (first["status"], first["url"]) == ("pending", "")
    attachment_write(
        waiting, data=png_saying(size=(50, 50)), info=media_inspect(png_saying(size=(50, 50)), kind="image")
    )

    again = client.get(url, {"after": str(later.pk), "refresh": f"{message.pk},x,99999"}).json()["messages"]
    assert [m["id"] for m in again] == [message.pk]
    assert again[0]["attachments"][0]["url"] == media_url(waiting)
    assert client.get(url, {"after": str(later.pk)}).json()["messages"] == []


def test_the_timeline_costs_the_same_queries_for_one_image_or_twenty(agent: User) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = logged_in(agent)
    small, big = a_conversation("一"), a_conversation("二")
    stored(a_message(small, "[图片]"), png_saying(size=(60, 40)))
    for i in range(20):
        message = a_message(big, f"[图片] {i}")
        stored(message, png_saying(size=(60, 40)), ocr_text="字", ocr_status=Attachment.OcrStatus.READ)
        if i % 2:
            failed(a_message(big, "[视频]"), kind="video", code="timeout")
    timeline(client, small)  # the session and the permission caches are warm from here on

    with CaptureQueriesContext(connection) as one:
        timeline(client, small)
    with CaptureQueriesContext(connection) as many:
        assert len(timeline(client, big)["messages"]) == 30

    assert len(many) == len(one)


def test_the_queue_shows_a_flagged_image_s_thumbnail_at_fixed_cost(
    agent: User, django_assert_max_num_queries: Any
) -> None:
    for i in range(10):
        message = a_message(a_conversation(f"客户{i}"), f"加微信 {i}")
        stored(message, png_saying(size=(80, 60)), ocr_text=f"加微信 {i}", ocr_status=Attachment.OcrStatus.READ)
        a_flag(message, term="加微信")
    client = logged_in(agent)

    with django_assert_max_num_queries(9):
        html = client.get(reverse("admin:console_workspace_changelist") + "?fragment=1").content.decode()

    assert html.count('class="media-thumb"') == 10
    assert html.count("?size=thumb") == 10
    assert "Recognised text" not in html  # the flagged text is the recognised text already


# ---- the simulator's customer sees their own conversation's media ------------------------------


def test_the_simulator_customer_gets_only_their_own_conversation_s_files(agent: User, settings: Any) -> None:
    mine, theirs = a_conversation("小明"), a_conversation("小红")
    sent = stored(a_message(mine, "[图片]"), png_saying(size=(800, 600)))
    reply = stored(
        a_message(mine, "[文件] 说明.pdf", direction="out", author_kind="agent", status=Message.Status.DELIVERED),
        PDF,
        kind="file",
        filename="说明.pdf",
    )
    queued = stored(
        a_message(mine, "[图片]", direction="out", author_kind="agent", status=Message.Status.PROCESSING), png_saying()
    )
    other = stored(a_message(theirs, "[图片]"), png_saying())
    client = Client()

    listed = client.get("/simulator/media/", {"customer_id": "ext-小明"})
    assert listed.status_code == 404  # not a customer id the simulator makes
    Customer.objects.filter(pk=mine.customer_id).update(external_id="sim-xiaoming")
    Customer.objects.filter(pk=theirs.customer_id).update(external_id="sim-xiaohong")
    media = client.get("/simulator/media/", {"customer_id": "sim-xiaoming"}).json()["media"]
    assert [item["id"] for item in media] == [sent.pk, reply.pk]  # not the reply still on its way
    assert media[0]["thumb_url"].endswith("customer_id=sim-xiaoming&size=thumb")

    def fetch(attachment: Attachment, customer: str, **query: str) -> Any:
        return client.get(f"/simulator/media/{attachment.pk}/", {"customer_id": customer, **query})

    assert fetch(reply, "sim-xiaoming").content == PDF
    assert fetch(reply, "sim-xiaoming")["Content-Disposition"].startswith("attachment;")
    assert fetch(sent, "sim-xiaoming", size="thumb")["Content-Type"] == "image/jpeg"
    assert fetch(other, "sim-xiaoming").status_code == 404
    assert fetch(queued, "sim-xiaoming").status_code == 404
    assert fetch(reply, "sim-xiaohong").status_code == 404
    assert fetch(other, "sim-xiaohong").status_code == 200
    settings.SIMULATOR_ENABLED = False
    assert fetch(other, "sim-xiaohong").status_code == 404
