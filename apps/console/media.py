"""How the console presents a message's media: the timeline's JSON and the queue's thumbnails."""

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from apps.conversations.media.sniff import REJECTIONS
from apps.conversations.models import Attachment, Message

THUMB_QUERY = "?size=thumb"


def media_url(attachment_id: int) -> str:
    return reverse("admin:console_media", args=[attachment_id])


def error_label(attachment: Attachment) -> str:
    """Why the file is missing, in the agent's language (the code's label; else what was recorded)."""
    if attachment.status == Attachment.Status.PURGED:
        return str(Attachment.Status.PURGED.label)
    if attachment.status != Attachment.Status.FAILED:
        return ""
    reason = REJECTIONS.get(attachment.error_code)
    return str(reason) if reason is not None else attachment.error or _("unknown error")


def error_line(attachment: Attachment) -> str:
    """The failure in a sentence: the kind and why, received (a customer's) or sent (an agent's)."""
    reason = error_label(attachment)
    if not reason:
        return ""
    kind = Attachment.Kind(attachment.kind).label if attachment.kind in Attachment.Kind.values else attachment.kind
    if attachment.message.direction == Message.Direction.OUTBOUND:
        return _("%(kind)s could not be sent: %(reason)s") % {"kind": kind, "reason": reason}
    return _("%(kind)s could not be received: %(reason)s") % {"kind": kind, "reason": reason}


def thumb_url(attachment: Attachment, siblings: list[Attachment]) -> str:
    """A small picture for the timeline: an image's own, a video's cover when it was fetched."""
    if attachment.kind == Attachment.Kind.IMAGE:
        return media_url(attachment.pk) + THUMB_QUERY
    for cover in siblings:
        if cover.role == Attachment.Role.THUMB and cover.status == Attachment.Status.STORED:
            return media_url(cover.pk) + THUMB_QUERY
    return ""


def attachment_json(attachment: Attachment, siblings: list[Attachment]) -> dict[str, Any]:
    stored = attachment.status == Attachment.Status.STORED
    read = attachment.ocr_status == Attachment.OcrStatus.READ
    return {
        "id": attachment.pk,
        "kind": attachment.kind,
        "role": attachment.role,
        "status": attachment.status,
        "content_type": attachment.content_type,
        "filename": attachment.filename,
        "size": attachment.size_bytes,
        "width": attachment.width,
        "height": attachment.height,
        "error_code": attachment.error_code,
        "error_label": error_label(attachment),
        "error_line": error_line(attachment),
        # Only what was actually read (OCR of an image, speech of a voice note, the channel's own).
        "text": attachment.ocr_text if read else "",
        "text_source": attachment.text_source if read else "",
        "url": media_url(attachment.pk) if stored else "",
        "thumb_url": thumb_url(attachment, siblings) if stored else "",
    }


def message_attachments_json(message: Message) -> list[dict[str, Any]]:
    siblings = list(message.attachments.all())
    return [attachment_json(a, siblings) for a in siblings if a.role == Attachment.Role.MAIN]
