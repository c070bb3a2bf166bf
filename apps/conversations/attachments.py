"""Customer images: checked and stored on receipt, read (OCR) in the processing step.

Receipt refuses what should never be stored: over DESK_IMAGE_MAX_BYTES (413), not a decodable
image or a decompression bomb (422). The message itself is the usual placeholder text, so the
spine, the console and the channels see an ordinary message; the Attachment row next to it holds
the file and, once processed, the text OCR found. Processing asks for that text instead of the
body (apps.conversations.services.inbound_process): it goes through moderation and into the
prompt like typed words. An image with no readable text gets a polite request to type instead.
"""

import hashlib
import io
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image

from apps.conversations import services
from apps.conversations.models import Attachment, Message
from apps.conversations.pipeline import Answer, ImageUnreadable, get_image_reader

IMAGE_PLACEHOLDER = "[图片]"  # what the Official Account and kf channels store for an image, too
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif", "BMP": "image/bmp"}
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif", "image/bmp": "bmp"}


class ImageRejected(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class ImageInfo:
    content_type: str
    width: int
    height: int


def image_too_large() -> ImageRejected:
    limit_mb = settings.DESK_IMAGE_MAX_BYTES / (1024 * 1024)
    return ImageRejected(413, f"the image is larger than {limit_mb:g} MB")


def image_inspect(*, data: bytes) -> ImageInfo:
    """Accept only a complete image of a known format and a sane decoded size."""
    if len(data) > settings.DESK_IMAGE_MAX_BYTES:
        raise image_too_large()
    if not data:
        raise ImageRejected(422, "the image is empty")
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            if width * height > settings.DESK_IMAGE_MAX_PIXELS:
                raise ImageRejected(422, "the image has too many pixels")
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # verify() misses truncated pixel data; decoding does not
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(422, "the file is not a readable image") from exc
    content_type = _FORMATS.get(kind or "")
    if content_type is None:
        raise ImageRejected(422, f"unsupported image format {kind}")
    return ImageInfo(content_type=content_type, width=width, height=height)


def message_receive_image(
    *,
    channel: str,
    external_user_id: str,
    display_name: str,
    channel_message_id: str | None,
    data: bytes,
    client_ip: str | None = None,
) -> services.Received:
    """Store a customer image once (idempotent like message_receive) and schedule its processing."""
    info = image_inspect(data=data)
    with transaction.atomic():
        # Processing is enqueued on commit of this outer transaction, so it always finds the attachment.
        received = services.message_receive(
            channel=channel,
            external_user_id=external_user_id,
            display_name=display_name,
            channel_message_id=channel_message_id,
            body=IMAGE_PLACEHOLDER,
            client_ip=client_ip,
        )
        if received.created:
            name = f"{uuid.uuid4().hex}.{_EXTENSIONS[info.content_type]}"
            Attachment.objects.create(
                message=received.message,
                file=ContentFile(data, name=name),
                content_type=info.content_type,
                size_bytes=len(data),
                width=info.width,
                height=info.height,
                sha256=hashlib.sha256(data).hexdigest(),
            )
    return received


def message_text(*, message: Message) -> str | None:
    """What the customer said: the body, or for an image the text OCR read (None: nothing readable).

    OCR runs once per attachment; a retried task reuses the stored result.
    """
    attachment = Attachment.objects.filter(message_id=message.pk).first()
    if attachment is None:
        return message.body
    if attachment.ocr_status == Attachment.OcrStatus.PENDING:
        try:
            with attachment.file.open("rb") as handle:
                read = get_image_reader().read(data=handle.read())
            text, ms = read.text, read.ms
        except ImageUnreadable:
            text, ms = "", None
        attachment.ocr_text = text
        attachment.ocr_ms = ms
        attachment.ocr_status = Attachment.OcrStatus.READ if text.strip() else Attachment.OcrStatus.UNREADABLE
        attachment.save(update_fields=["ocr_text", "ocr_ms", "ocr_status"])
    return attachment.ocr_text if attachment.ocr_status == Attachment.OcrStatus.READ else None


def unreadable_answer() -> Answer:
    return Answer(text=settings.DESK_IMAGE_UNREADABLE_REPLY, meta={"source": "ocr", "readable": False})
