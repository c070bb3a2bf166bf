"""Media an agent sends: checked like a customer's, read (OCR) for moderation, then queued.

The file is refused before anything is stored when the channel cannot carry its kind (an Official
Account cannot send a file) or it breaks WeChat's limits; an image's text is returned so the
caller can run it past the moderator, since a picture can say what a blocked sentence says.
"""

from dataclasses import dataclass

from apps.conversations.channels import get_adapter
from apps.conversations.media.receive import media_body
from apps.conversations.media.sniff import MediaInfo, MediaRejected, content_type_sniff, kind_of, media_inspect
from apps.conversations.media.store import attachment_write
from apps.conversations.models import Attachment, Message
from apps.conversations.pipeline import ImageUnreadable, get_image_reader

# What a channel can play as a voice note; other audio goes out as a file.
_VOICE_TYPES = frozenset({"audio/amr", "audio/mpeg"})


class MediaRefused(Exception):
    """The file cannot be sent; the message is for the agent."""


@dataclass(frozen=True)
class OutgoingMedia:
    data: bytes
    info: MediaInfo
    filename: str
    text: str  # what OCR read from an image ("" for anything else)

    @property
    def body(self) -> str:
        return media_body(self.info.kind, self.filename)


def outgoing_media_check(*, channel: str, data: bytes, filename: str) -> OutgoingMedia:
    content_type = content_type_sniff(data)
    kind = kind_of(content_type)
    if kind == "voice" and content_type not in _VOICE_TYPES:
        kind = "file"
    try:
        info = media_inspect(data, kind=kind)
    except MediaRejected as exc:
        raise MediaRefused(exc.detail) from exc
    adapter = get_adapter(channel)
    if info.kind not in adapter.media_kinds:
        if info.kind != "file" and "file" in adapter.media_kinds:
            info = MediaInfo(kind="file", content_type=info.content_type)
        else:
            raise MediaRefused(f"the {adapter.label} channel cannot send a {info.kind}")
    text = ""
    if info.kind == "image":
        try:
            text = get_image_reader().read(data=data).text
        except ImageUnreadable:
            text = ""
    return OutgoingMedia(data=data, info=info, filename=filename.rsplit("/", 1)[-1][:255], text=text)


def media_attach(*, message: Message, media: OutgoingMedia) -> Attachment:
    """Store the file on an outbound message (inside the transaction that queued it)."""
    attachment = Attachment.objects.create(message=message, kind=media.info.kind, filename=media.filename)
    if media.text:
        attachment.ocr_text = media.text
        attachment.ocr_status = Attachment.OcrStatus.READ
        attachment.text_source = "ocr"
    attachment_write(attachment, data=media.data, info=media.info)
    return attachment
