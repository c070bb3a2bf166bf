"""Customer media arriving with a message: as bytes (an upload) or as a channel's reference.

Called inside the transaction that stores the message, so the processing task that the commit
enqueues always finds its attachments. Bytes that fail the checks are not refused: the message
is stored with the attachment marked failed and why, and processing hands it to a person.
"""

from dataclasses import dataclass, field
from typing import Any

from apps.conversations.media.sniff import MediaRejected, media_inspect
from apps.conversations.media.store import attachment_write
from apps.conversations.models import Attachment, Message

# What a message's body says for media: the console, search and the audit log read the body.
LABELS = {"image": "[图片]", "voice": "[语音]", "video": "[视频]", "file": "[文件]"}


@dataclass(frozen=True)
class InboundMedia:
    kind: str  # image | voice | video | file
    data: bytes | None = field(default=None, repr=False)  # the bytes, for an upload
    source: dict[str, Any] = field(default_factory=dict)  # or the channel's reference, fetched later
    filename: str = ""
    thumb_source: dict[str, Any] = field(default_factory=dict)  # a video's cover, fetched with it
    # Text the channel recognised itself (an Official Account's voice Recognition field).
    channel_text: str = ""
    # The channel could not hand the file over (a key of sniff.REJECTIONS): recorded failed at once.
    error_code: str = ""
    error: str = ""

    def body(self) -> str:
        return media_body(self.kind, self.filename)


def media_body(kind: str, filename: str = "") -> str:
    """The message body for a file: its label, and a file's name after it."""
    label = LABELS.get(kind, LABELS["file"])
    return f"{label} {filename}" if kind == "file" and filename else label


def attachments_create(*, message: Message, media: InboundMedia) -> Attachment:
    attachment = Attachment.objects.create(
        message=message,
        kind=media.kind,
        status=Attachment.Status.PENDING,
        source=media.source,
        filename=media.filename[:255],
    )
    if media.channel_text.strip():
        attachment.ocr_text = media.channel_text.strip()
        attachment.ocr_status = Attachment.OcrStatus.READ
        attachment.text_source = "channel"
        attachment.save(update_fields=["ocr_text", "ocr_status", "text_source"])
    if media.thumb_source:
        Attachment.objects.create(
            message=message,
            role=Attachment.Role.THUMB,
            kind=Attachment.Kind.IMAGE,
            status=Attachment.Status.PENDING,
            source=media.thumb_source,
        )
    if media.error_code:
        attachment_failed(attachment, code=media.error_code, detail=media.error or media.error_code)
    elif media.data is not None:
        attachment_store_bytes(attachment, data=media.data)
    return attachment


def attachment_store_bytes(attachment: Attachment, *, data: bytes) -> bool:
    """Check and store the bytes; a rejection is recorded on the attachment. True when stored."""
    try:
        info = media_inspect(data, kind=attachment.kind)
    except MediaRejected as exc:
        attachment_failed(attachment, code=exc.code, detail=exc.detail, size=len(data))
        return False
    attachment_write(attachment, data=data, info=info)
    return True


def attachment_failed(attachment: Attachment, *, code: str, detail: str, size: int | None = None) -> None:
    attachment.status = Attachment.Status.FAILED
    attachment.error_code = code[:32]
    attachment.error = detail[:500]
    attachment.size_bytes = size
    attachment.save(update_fields=["status", "error_code", "error", "size_bytes"])
