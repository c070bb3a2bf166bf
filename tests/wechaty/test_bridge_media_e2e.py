"""End to end with media: the real Wechaty SDK in the bridge process, the test puppet serving
files as FileBoxes, the desk (uvicorn and a Celery worker with the real OCR) on Postgres and Redis."""

import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from PIL import Image

from apps.conversations.media.send import media_attach, outgoing_media_check
from apps.conversations.media.store import attachment_read
from apps.conversations.models import Attachment, Conversation, Message
from apps.conversations.services import conversation_open
from apps.conversations.services.outbound import conversation_reply
from tests.knowledge.conftest import CJK_FONT, text_image
from tests.support.waiting import wait_for
from tests.wechaty.conftest import Bridge
from tests.wechaty.puppet_server import TestPuppet

pytestmark = [pytest.mark.live, pytest.mark.timeout(240)]

ALICE = "wxid_alice"
BOB = "wxid_bob"
IMAGE_ARTWORK, IMAGE_HD, IMAGE_THUMBNAIL = 3, 2, 1
SILK = b"\x02#!SILK_V3" + bytes(range(256)) * 16


@pytest.fixture
def media_root(live_env: dict[str, str], settings: Any, tmp_path: Path) -> Path:
    """One MEDIA_ROOT for this test, the web process and the worker (set before they start)."""
    root = tmp_path / "media"
    live_env["DESK_MEDIA_ROOT"] = str(root)
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def desk_and_bridge(
    media_root: Path,
    asgi_server: str,
    celery_worker_process: Callable[..., object],
    start_bridge: Callable[..., Bridge],
    bridge_name: str,
    wechaty_redis_url: str,
    puppet: TestPuppet,
) -> Bridge:
    puppet.add_contact(ALICE, "Alice")
    puppet.add_contact(BOB, "Bob")
    celery_worker_process(
        DESK_MODERATOR="apps.conversations.placeholders.AllowAllModerator",
        WECHATY_BRIDGE_NAME=bridge_name,
        WECHATY_REDIS_URL=wechaty_redis_url,
    )
    bridge = start_bridge(asgi_server)
    bridge.wait_logged_in()
    return bridge


def jpeg(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (230, 230, 230)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_an_image_is_read_and_answered_and_a_voice_note_goes_to_a_person(
    desk_and_bridge: Bridge, puppet: TestPuppet, settings: Any
) -> None:
    if not CJK_FONT.is_file():
        pytest.skip("fonts-noto-cjk is not installed")
    artwork = text_image(["请问怎么退货？"])
    image_id = puppet.customer_sends(
        ALICE, "image", artwork, name="photo.png", images={IMAGE_ARTWORK: artwork, IMAGE_THUMBNAIL: jpeg((40, 30))}
    )
    wait_for(lambda: len(puppet.sent_to(ALICE)) == 1, timeout=90, what="the answer to the image")
    assert "退货" in puppet.sent_to(ALICE)[0]  # the test answerer quotes the text OCR read

    image = Attachment.objects.get(message__channel_message_id=image_id)
    assert (image.kind, image.status, image.content_type) == ("image", "stored", "image/png")
    assert image.sha256 == hashlib.sha256(artwork).hexdigest()  # the original, not the thumbnail
    assert puppet.file_image_types(image_id) == [IMAGE_ARTWORK]
    assert "退货" in image.ocr_text
    assert image.message.body == "[图片]"

    voice_id = puppet.customer_sends(ALICE, "voice", SILK, name="message.sil")
    wait_for(lambda: len(puppet.sent_to(ALICE)) == 2, timeout=30, what="the notice about the voice note")
    assert puppet.sent_to(ALICE)[1] == settings.DESK_MEDIA_HUMAN_NOTICE

    voice = Attachment.objects.get(message__channel_message_id=voice_id)
    assert (voice.kind, voice.status, voice.content_type, voice.filename) == (
        "voice",
        "stored",
        "audio/silk",
        "message.sil",
    )
    assert attachment_read(voice) == SILK
    with voice.file.open("rb") as sealed:
        assert SILK[:16] not in sealed.read()  # encrypted at rest
    assert voice.message.status == Message.Status.HANDED_OVER
    assert Conversation.objects.get().mode == Conversation.Mode.QUEUED
    counters = desk_and_bridge.counters()
    assert counters["accepted:private_media"] == 2
    assert "media_unavailable" not in counters


def test_a_link_and_a_mini_program_arrive_as_text(desk_and_bridge: Bridge, puppet: TestPuppet) -> None:
    link_id = puppet.customer_shares_link(
        BOB, title="退货政策", description="七天无理由退货", url="https://shop.example/returns", thumbnailUrl=""
    )
    program_id = puppet.customer_shares_mini_program(
        BOB, title="我的订单", appid="wx1234567890abcdef", pagePath="pages/order/detail?id=42", description=""
    )
    wait_for(lambda: len(puppet.sent_to(BOB)) == 2, timeout=30, what="the answers to the link and the mini program")

    bodies = dict(Message.objects.filter(direction=Message.Direction.INBOUND).values_list("channel_message_id", "body"))
    assert bodies[link_id] == "[链接] 退货政策\n七天无理由退货\nhttps://shop.example/returns"
    assert bodies[program_id] == "[小程序] 我的订单\nwx1234567890abcdef\npages/order/detail?id=42"
    assert not Attachment.objects.exists()


def test_an_agents_image_reaches_the_customer_as_a_file_once(desk_and_bridge: Bridge, puppet: TestPuppet) -> None:
    puppet.customer_says(ALICE, "退货地址发我一下")
    wait_for(lambda: len(puppet.sent_to(ALICE)) == 1, timeout=30, what="the bot's answer")

    picture = jpeg((320, 240))
    outgoing = outgoing_media_check(channel="wechaty", data=picture, filename="退货地址.jpg")
    with transaction.atomic():
        conversation = conversation_open(channel="wechaty", external_id=ALICE)
        reply = conversation_reply(conversation=conversation, body=outgoing.body, author_kind=Message.AuthorKind.AGENT)
        media_attach(message=reply, media=outgoing)

    wait_for(lambda: len(puppet.files_sent_to(ALICE)) == 1, timeout=30, what="the image to reach the puppet")
    wait_for(lambda: Message.objects.get(pk=reply.pk).status == Message.Status.DELIVERED, timeout=10, what="delivered")
    (sent,) = puppet.files_sent_to(ALICE)
    assert (sent.name, sent.media_type, sent.data) == ("退货地址.jpg", "image/jpeg", picture)
    # The puppet echoes the sent image as the account's own message: not a staff takeover.
    wait_for(lambda: desk_and_bridge.counters().get("ignored:own_media") == 1, timeout=10, what="the echo")
    assert Conversation.objects.get().mode == Conversation.Mode.BOT
    assert len(puppet.files_sent_to(ALICE)) == 1
    assert len(puppet.sent_to(ALICE)) == 1


def test_a_file_the_puppet_cannot_hand_over_is_still_recorded_and_goes_to_a_person(
    desk_and_bridge: Bridge, puppet: TestPuppet, settings: Any
) -> None:
    hd_only = jpeg((200, 150))
    image_id = puppet.customer_sends(BOB, "image", hd_only, name="hd.jpg", images={IMAGE_HD: hd_only})
    lost_id = puppet.customer_sends(BOB, "file", b"", name="合同.pdf", images={})
    wait_for(
        lambda: Message.objects.filter(channel_message_id=lost_id, status=Message.Status.HANDED_OVER).exists(),
        timeout=60,
        what="the lost file to go to a person",
    )
    # The original was not kept: the HD copy is the next best.
    assert puppet.file_image_types(image_id) == [IMAGE_ARTWORK, IMAGE_HD]
    assert Attachment.objects.get(message__channel_message_id=image_id).sha256 == hashlib.sha256(hd_only).hexdigest()
    lost = Attachment.objects.get(message__channel_message_id=lost_id)
    assert (lost.kind, lost.status, lost.error_code) == ("file", "failed", "unavailable")
    assert lost.message.body == "[文件]"  # the name was never handed over either
    assert settings.DESK_MEDIA_HUMAN_NOTICE in puppet.sent_to(BOB)
    assert desk_and_bridge.counters()["media_unavailable"] == 1


def test_a_file_waits_in_the_bridge_while_the_desk_is_down_and_survives_a_restart(
    media_root: Path,
    asgi_server: str,
    celery_worker_process: Callable[..., object],
    start_bridge: Callable[..., Bridge],
    bridge_name: str,
    wechaty_redis_url: str,
    puppet: TestPuppet,
) -> None:
    from tests.support.processes import free_port

    celery_worker_process(
        DESK_MODERATOR="apps.conversations.placeholders.AllowAllModerator",
        WECHATY_BRIDGE_NAME=bridge_name,
        WECHATY_REDIS_URL=wechaty_redis_url,
    )
    down = start_bridge(f"http://127.0.0.1:{free_port()}")
    down.wait_logged_in()
    file_id = puppet.customer_sends(ALICE, "file", b"%PDF-1.4\n" + b"1" * 4096, name="发票.pdf")
    wait_for(lambda: down.counters().get("forward_retries", 0) >= 1, timeout=30, what="a refused forward")
    down.process.stop()

    up = start_bridge(asgi_server)
    up.wait_logged_in()
    wait_for(
        lambda: Attachment.objects.filter(message__channel_message_id=file_id).exists(),
        timeout=30,
        what="the file to reach the desk after the restart",
    )
    stored = Attachment.objects.get(message__channel_message_id=file_id)
    assert (stored.status, stored.filename, stored.content_type) == ("stored", "发票.pdf", "application/pdf")
    assert stored.message.body == "[文件] 发票.pdf"
