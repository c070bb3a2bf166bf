"""POST /api/inbound/messages/media/<kind>: any customer file, stored even when it is bad.

Refused before anything is stored: a declared length over the kind's limit (413), a body that is
not multipart (415), bad fields (422). A file that is not what it claims, or damaged, is stored as
a failed attachment and the message goes to a person: the customer's message is never lost.
"""

import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from apps.conversations.media.store import attachment_read
from apps.conversations.models import Attachment, Conversation, Message

AUTH = {"Authorization": "Bearer test-inbound-token"}
SILK = b"\x02#!SILK_V3" + bytes(range(256)) * 8


def url(kind: str) -> str:
    return f"/api/inbound/messages/media/{kind}"


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def post(client: Client, kind: str, data: bytes | None, *, name: str = "upload.bin", **fields: Any) -> Any:
    form: dict[str, Any] = {
        "channel": "wechaty",
        "channel_message_id": "wx-1",
        "external_user_id": "wxid_alice",
        "display_name": "Alice",
        **fields,
    }
    if data is not None:
        upload = io.BytesIO(data)
        upload.name = name
        form["file"] = upload
    return client.post(url(kind), form, headers=AUTH)


def assert_nothing_written() -> None:
    assert Message.objects.count() == 0
    assert Conversation.objects.count() == 0
    assert Attachment.objects.count() == 0


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "data", "name", "content_type", "body"),
    [
        ("image", png(), "photo.png", "image/png", "[图片]"),
        ("voice", SILK, "msg.sil", "audio/silk", "[语音]"),
        ("file", b"%PDF-1.4\n" + b"0" * 2000, "../../etc/报价单.pdf", "application/pdf", "[文件] 报价单.pdf"),
    ],
)
def test_a_file_is_stored_encrypted_with_the_message(
    client: Client, kind: str, data: bytes, name: str, content_type: str, body: str
) -> None:
    response = post(client, kind, data, filename=name)

    assert response.status_code == 202
    answer = response.json()
    attachment = Attachment.objects.get()
    assert answer["duplicate"] is False
    assert answer["attachment"] == {
        "id": attachment.pk,
        "kind": kind,
        "status": "stored",
        "error_code": "",
        "content_type": content_type,
        "size_bytes": len(data),
    }
    assert attachment.message.body == body
    assert attachment.message.channel_message_id == "wx-1"
    assert attachment_read(attachment) == data
    with attachment.file.open("rb") as stored:
        assert data[:32] not in stored.read()  # sealed on disk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "data", "code"),
    [
        ("image", b"this is text, not a picture", "wrong_type"),
        ("image", png()[:-40], "corrupt"),
        ("voice", png(), "wrong_type"),
        ("video", b"", "empty"),
    ],
)
def test_bad_bytes_are_stored_as_a_failed_attachment_not_refused(
    client: Client, kind: str, data: bytes, code: str
) -> None:
    response = post(client, kind, data)

    assert response.status_code == 202
    assert response.json()["attachment"]["status"] == "failed"
    assert response.json()["attachment"]["error_code"] == code
    attachment = Attachment.objects.get()
    assert (attachment.status, attachment.error_code, bool(attachment.file)) == ("failed", code, False)
    assert Message.objects.get().direction == Message.Direction.INBOUND


def test_a_failed_file_goes_to_a_person_with_one_notice(client: Client, eager_tasks: None, settings: Any) -> None:
    settings.DESK_MODERATOR = "apps.conversations.placeholders.AllowAllModerator"
    assert post(client, "image", b"not an image", channel_message_id="wx-a").status_code == 202
    assert post(client, "image", b"still not one", channel_message_id="wx-b").status_code == 202

    inbound = Message.objects.filter(direction=Message.Direction.INBOUND)
    assert set(inbound.values_list("status", flat=True)) == {Message.Status.HANDED_OVER}
    notices = Message.objects.filter(direction=Message.Direction.OUTBOUND)
    assert list(notices.values_list("body", flat=True)) == [settings.DESK_MEDIA_HUMAN_NOTICE]


@pytest.mark.django_db
def test_a_file_the_channel_could_not_hand_over_is_recorded_failed(client: Client) -> None:
    response = post(client, "voice", None, error_code="timeout", error="the puppet did not answer")

    assert response.status_code == 202
    assert response.json()["attachment"]["status"] == "failed"
    attachment = Attachment.objects.get()
    assert (attachment.error_code, attachment.error) == ("timeout", "the puppet did not answer")
    assert attachment.message.body == "[语音]"


@pytest.mark.django_db
def test_a_redelivery_is_answered_as_a_duplicate_and_stored_once(client: Client) -> None:
    first = post(client, "image", png())
    again = post(client, "image", png())

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    assert Message.objects.count() == Attachment.objects.count() == 1


@pytest.mark.django_db
class TestRefused:
    def test_a_declared_length_over_the_kind_limit_is_refused_before_reading(self, client: Client) -> None:
        # Three megabytes fit an image but not a voice note (2 MB): the kind in the path decides.
        declared = str(3 * 1024 * 1024)
        response = client.post(
            url("voice"),
            {"channel": "wechaty", "channel_message_id": "wx-1", "external_user_id": "a", "file": io.BytesIO(SILK)},
            headers=AUTH,
            CONTENT_LENGTH=declared,
        )
        assert response.status_code == 413
        assert response.json() == {"detail": "the voice is larger than 2 MB"}
        assert_nothing_written()

    def test_a_body_that_is_not_multipart_is_refused(self, client: Client) -> None:
        response = client.post(url("image"), {"channel": "wechaty"}, content_type="application/json", headers=AUTH)
        assert response.status_code == 415
        assert response.json() == {"detail": "send the image as multipart/form-data"}
        assert_nothing_written()

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"channel": "telegram"}, "channel"),
            ({"external_user_id": ""}, "external_user_id"),
            ({"channel_message_id": "a\x00b"}, "channel_message_id"),
            ({"error_code": "lost"}, "error_code"),
            ({"filename": "x" * 256}, "filename"),
        ],
    )
    def test_bad_fields_are_named(self, client: Client, fields: dict[str, str], field: str) -> None:
        response = post(client, "image", png(), **fields)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
        assert_nothing_written()

    def test_a_missing_file_is_refused_unless_the_channel_reports_why(self, client: Client) -> None:
        response = post(client, "file", None)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "file"
        both = post(client, "file", b"%PDF-1.4", error_code="timeout")
        assert both.status_code == 422
        assert both.json()["errors"][0]["field"] == "error_code"
        assert_nothing_written()

    def test_an_unknown_kind_is_refused(self, client: Client) -> None:
        response = post(client, "sticker", png())
        assert response.status_code == 422
        assert_nothing_written()

    def test_a_missing_token_is_refused(self, client: Client) -> None:
        response = client.post(url("image"), {"channel": "wechaty", "file": io.BytesIO(png())})
        assert response.status_code == 401
        assert_nothing_written()
