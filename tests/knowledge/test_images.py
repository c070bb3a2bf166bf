"""Customer images: stored with a size limit, read by OCR, answered about; bad uploads refused cleanly."""

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from apps.conversations.media.store import attachment_read
from apps.conversations.models import Attachment, Conversation, Message
from apps.knowledge.models import Entry
from apps.llm.models import Endpoint
from peers.openai_server import OpenAIServer
from tests.knowledge.conftest import faq_of

URL = "/api/inbound/messages/image"
AUTH = {"Authorization": "Bearer test-inbound-token"}
MakeImage = Callable[..., bytes]


def post_image(client: Client, data: bytes, *, message_id: str = "img-1", name: str = "photo.png") -> object:
    upload = io.BytesIO(data)
    upload.name = name
    fields = {"channel": "simulator", "channel_message_id": message_id, "external_user_id": "cust-img", "image": upload}
    return client.post(URL, fields, headers=AUTH)


def reply() -> Message:
    return Message.objects.get(direction=Message.Direction.OUTBOUND)


def assert_nothing_written() -> None:
    assert Message.objects.count() == 0
    assert Conversation.objects.count() == 0
    assert Attachment.objects.count() == 0


def test_an_image_of_a_knowledge_question_is_read_and_answered(
    faq: dict[str, Entry], llm_server: OpenAIServer, llm_endpoint: Endpoint, client: Client, cjk_image: MakeImage
) -> None:
    data = cjk_image(["请问退货地址在哪里？"])
    response = post_image(client, data)
    assert response.status_code == 202  # type: ignore[attr-defined]

    attachment = Attachment.objects.get()
    assert attachment.ocr_status == Attachment.OcrStatus.READ
    assert "退货地址" in attachment.ocr_text
    assert attachment.message.body == "[图片]"
    assert attachment.size_bytes == len(data)
    assert attachment_read(attachment) == data
    with attachment.file.open("rb") as stored:  # the file under MEDIA_ROOT is sealed, not the image
        assert data[:64] not in stored.read()
    assert reply().body == faq_of("return-address").answer
    assert reply().answer_meta["source"] == "knowledge"


def test_the_text_of_an_image_reaches_the_prompt_and_moderation(
    llm_server: OpenAIServer,
    llm_endpoint: Endpoint,
    client: Client,
    cjk_image: MakeImage,
    eager_tasks: None,
    settings: Any,
) -> None:
    from apps.moderation.models import Term

    Term.objects.create(text="加微信", category="fraud", action="flag")

    response = post_image(client, cjk_image(["这件羊毛衫可以机洗吗", "加微信领红包"]))
    assert response.status_code == 202  # type: ignore[attr-defined]

    prompt = llm_server.stats.bodies[-1]["messages"][-1]["content"]
    assert "机洗" in prompt
    assert settings.DESK_IMAGE_TEXT_MARKER in prompt  # the model is told the words came from a picture
    assert reply().body == "这是模型的回答。"
    flag = Attachment.objects.get().message.moderation_flags.get()
    assert "加微信" in flag.text  # the OCR text went through moderation like typed words


def test_an_image_without_text_goes_to_a_person_and_the_customer_is_told(
    llm_server: OpenAIServer, llm_endpoint: Endpoint, client: Client, eager_tasks: None, settings: object
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 220, 240)).save(buffer, "JPEG")

    assert post_image(client, buffer.getvalue(), name="sky.jpg").status_code == 202  # type: ignore[attr-defined]

    assert Attachment.objects.get().ocr_status == Attachment.OcrStatus.UNREADABLE
    assert reply().body == settings.DESK_MEDIA_HUMAN_NOTICE  # type: ignore[attr-defined]
    assert reply().author_kind == Message.AuthorKind.SYSTEM
    assert llm_server.stats.requests == 0
    assert Conversation.objects.get().mode == Conversation.Mode.QUEUED
    assert Message.objects.get(direction=Message.Direction.INBOUND).status == Message.Status.HANDED_OVER

    # A second unreadable picture right after: still for the person, and no second notice.
    assert post_image(client, buffer.getvalue(), message_id="img-2").status_code == 202  # type: ignore[attr-defined]
    assert Message.objects.filter(direction=Message.Direction.OUTBOUND).count() == 1


@pytest.mark.django_db
def test_a_20_megabyte_image_is_refused_before_it_is_read(client: Client) -> None:
    data = b"\x89PNG\r\n\x1a\n" + b"\0" * (20 * 1024 * 1024)

    response = post_image(client, data)

    assert response.status_code == 413  # type: ignore[attr-defined]
    assert "larger than 10 MB" in response.json()["detail"]  # type: ignore[attr-defined]
    assert_nothing_written()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"not an image at all", id="garbage"),
        pytest.param(b"", id="empty"),
        pytest.param("truncated", id="truncated"),
    ],
)
def test_a_corrupt_image_is_refused(client: Client, data: bytes | str, cjk_image: MakeImage) -> None:
    if data == "truncated":
        whole = cjk_image(["退货地址"], fmt="JPEG")
        data = whole[: len(whole) // 2]

    response = post_image(client, data)  # type: ignore[arg-type]

    assert response.status_code == 422  # type: ignore[attr-defined]
    assert_nothing_written()


@pytest.mark.django_db
def test_a_decompression_bomb_is_refused(client: Client, settings: object) -> None:
    settings.DESK_IMAGE_MAX_PIXELS = 1_000_000  # type: ignore[attr-defined]
    buffer = io.BytesIO()
    Image.new("1", (2000, 2000)).save(buffer, "PNG")  # a few KB on disk, 4 megapixels decoded

    response = post_image(client, buffer.getvalue())

    assert response.status_code == 422  # type: ignore[attr-defined]
    assert_nothing_written()


@pytest.mark.django_db
def test_missing_fields_are_named(client: Client) -> None:
    response = client.post(URL, {"channel": "simulator"}, headers=AUTH)

    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"channel_message_id", "external_user_id"} <= fields


def test_a_redelivered_image_is_stored_once(
    client: Client, cjk_image: MakeImage, llm_server: OpenAIServer, llm_endpoint: Endpoint, eager_tasks: None
) -> None:
    data = cjk_image(["在吗"])

    first, second = post_image(client, data), post_image(client, data)

    assert (first.status_code, second.status_code) == (202, 200)  # type: ignore[attr-defined]
    assert second.json()["duplicate"] is True  # type: ignore[attr-defined]
    assert Attachment.objects.count() == 1


def test_the_simulator_takes_an_image(
    client: Client, cjk_image: MakeImage, llm_server: OpenAIServer, llm_endpoint: Endpoint, eager_tasks: None
) -> None:
    upload = io.BytesIO(cjk_image(["这件羊毛衫可以机洗吗"]))
    upload.name = "wool.png"
    fields = {
        "customer_id": "sim-cust-001",
        "client_message_id": "sim-msg-0001",
        "display_name": "王五",
        "image": upload,
    }

    response = client.post("/api/simulator/messages/image", fields)

    assert response.status_code == 202
    assert "机洗" in Attachment.objects.get().ocr_text
    assert reply().body == "这是模型的回答。"
