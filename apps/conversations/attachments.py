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
from typing import TypeVar

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import HttpRequest
from ninja import Schema
from ninja.errors import HttpError, ValidationError
from PIL import Image
from pydantic import ValidationError as PydanticValidationError

from apps.conversations import services
from apps.conversations.models import Attachment, Message
from apps.conversations.pipeline import Answer

IMAGE_PLACEHOLDER = "[图片]"  # what the Official Account and kf channels store for an image, too
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif", "BMP": "image/bmp"}
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif", "image/bmp": "bmp"}
# Multipart boundaries and the small text fields around the file.
_FORM_OVERHEAD = 64 * 1024

S = TypeVar("S", bound=Schema)


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


def _too_large() -> ImageRejected:
    limit_mb = settings.DESK_IMAGE_MAX_BYTES / (1024 * 1024)
    return ImageRejected(413, f"the image is larger than {limit_mb:g} MB")


def image_inspect(*, data: bytes) -> ImageInfo:
    """Accept only a complete image of a known format and a sane decoded size."""
    if len(data) > settings.DESK_IMAGE_MAX_BYTES:
        raise _too_large()
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
        from apps.knowledge.ocr import OcrError, image_read_text

        try:
            with attachment.file.open("rb") as handle:
                result = image_read_text(data=handle.read())
            text, ms = result.text, result.ms
        except OcrError:
            text, ms = "", None
        attachment.ocr_text = text
        attachment.ocr_ms = ms
        attachment.ocr_status = Attachment.OcrStatus.READ if text.strip() else Attachment.OcrStatus.UNREADABLE
        attachment.save(update_fields=["ocr_text", "ocr_ms", "ocr_status"])
    return attachment.ocr_text if attachment.ocr_status == Attachment.OcrStatus.READ else None


def unreadable_answer() -> Answer:
    return Answer(text=settings.DESK_IMAGE_UNREADABLE_REPLY, meta={"source": "ocr", "readable": False})


# HTTP side: the inbound and simulator APIs take the image as multipart/form-data.


def image_upload_parse(request: HttpRequest, *, schema: type[S], field: str = "image") -> tuple[S, bytes]:
    """The form's fields (validated by ``schema``) and the image bytes; 413/422 before storing anything.

    The declared length is checked before Django reads the body, so an oversized upload is refused
    without spooling it to disk.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > settings.DESK_IMAGE_MAX_BYTES + _FORM_OVERHEAD:
        raise HttpError(413, _too_large().detail)
    if not (request.content_type or "").startswith("multipart/form-data"):
        raise HttpError(415, "send the image as multipart/form-data")
    try:
        form = schema.model_validate({key: request.POST.get(key) for key in request.POST})
    except PydanticValidationError as exc:
        raise ValidationError([{"loc": ("form", *e["loc"]), "msg": e["msg"]} for e in exc.errors()]) from exc
    upload = request.FILES.get(field)
    if upload is None:
        raise ValidationError([{"loc": ("form", field), "msg": "an image file is required"}])
    if upload.size is not None and upload.size > settings.DESK_IMAGE_MAX_BYTES:
        raise HttpError(413, _too_large().detail)
    return form, upload.read()
