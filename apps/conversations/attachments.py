"""Customer images uploaded through the inbound and simulator APIs: checked on receipt.

Receipt refuses what should never be stored: over DESK_IMAGE_MAX_BYTES (413), not a decodable
image or a decompression bomb (422): the caller is told and can fix it. Images that arrive from a
channel without a caller to tell (WeChat media ids) are recorded as failed instead (media/).
The message itself is the label "[图片]"; the attachment holds the encrypted file and, once
processed, the text OCR found (media/prepare.py), which goes through moderation and into the
prompt like typed words.
"""

from dataclasses import dataclass

from django.conf import settings

from apps.conversations import services
from apps.conversations.media.receive import LABELS, InboundMedia
from apps.conversations.media.sniff import MediaRejected, image_check

IMAGE_PLACEHOLDER = LABELS["image"]


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
        content_type, width, height = image_check(data)
    except MediaRejected as exc:
        raise ImageRejected(422, exc.detail) from exc
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
    image_inspect(data=data)
    return services.message_receive(
        channel=channel,
        external_user_id=external_user_id,
        display_name=display_name,
        channel_message_id=channel_message_id,
        body=IMAGE_PLACEHOLDER,
        client_ip=client_ip,
        media=InboundMedia(kind="image", data=data),
    )
