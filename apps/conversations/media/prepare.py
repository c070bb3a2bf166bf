"""The processing step before moderation: make a message's media into text the bot can use.

Each step is idempotent and recorded on the attachment, so a retried task (or the sweeper's
requeue after a crash) continues where the last try stopped: a fetched file is not fetched again,
a read image is not read again.

- Fetch what the channel only referenced (WeChat's media ids). A timeout or 5xx is retried
  (DESK_MEDIA_FETCH_ATTEMPTS, through the task's retries); a 404, an expired id or a bad file is
  recorded as failed.
- Read it: OCR for an image, the channel's recognition or the speech reader for a voice note.
- What the bot cannot use (a failed download, an unreadable picture, a video, a file) goes to a
  person, and the customer is told once.
"""

import logging
from dataclasses import dataclass

from django.conf import settings

from apps.conversations import events
from apps.conversations.channels import MediaUnavailable, get_adapter
from apps.conversations.media.receive import attachment_failed, attachment_store_bytes
from apps.conversations.media.sniff import max_bytes
from apps.conversations.media.store import attachment_read
from apps.conversations.models import Attachment, Message
from apps.conversations.pipeline import (
    ImageUnreadable,
    SpeechUnreadable,
    get_image_reader,
    get_speech_reader,
    question_marked,
)

logger = logging.getLogger(__name__)


class MediaFetchRetry(Exception):
    """A download failed in a way worth another try; the processing task retries the message."""


@dataclass(frozen=True)
class Prepared:
    """What processing does with the message: moderate and answer ``text`` (behind ``marker``), or
    hand it to a person (``hand_over`` says why)."""

    text: str = ""
    marker: str = ""
    hand_over: str = ""
    media: dict[str, str] | None = None  # for the audit row

    def question(self, checked: str) -> str:
        return question_marked(self.marker, checked)


def message_prepare(*, message: Message) -> Prepared:
    if not getattr(message, "has_media", True):
        return Prepared(text=message.body)  # read with an Exists(attachment) annotation: none
    attachments = {a.role: a for a in Attachment.objects.filter(message_id=message.pk)}
    main = attachments.get(Attachment.Role.MAIN)
    if main is None:
        return Prepared(text=message.body)
    pending = [a for a in attachments.values() if a.status == Attachment.Status.PENDING]
    for attachment in pending:
        _fetch(attachment, channel=message.channel)
    if pending:
        # The console shows "receiving…" until then; the nudge makes it show the file at once.
        events.conversation_changed(conversation_id=message.conversation_id, message_id=message.pk)
    audit = {"kind": main.kind, "status": main.status, **({"error": main.error_code} if main.error_code else {})}
    if main.status != Attachment.Status.STORED:
        return Prepared(hand_over=f"{main.kind} not stored: {main.error_code or main.status}", media=audit)
    if main.kind == Attachment.Kind.IMAGE:
        text = _read_image(main)
        marker = settings.DESK_IMAGE_TEXT_MARKER
    elif main.kind == Attachment.Kind.VOICE:
        text = _read_voice(main)
        marker = settings.DESK_VOICE_TEXT_MARKER
    else:
        return Prepared(hand_over=f"a {main.kind} is for a person to look at", media=audit)
    audit["text_from"] = main.text_source
    if text is None:
        return Prepared(hand_over=f"no text could be read from the {main.kind}", media=audit)
    return Prepared(text=text, marker=marker, media=audit)


def _fetch(attachment: Attachment, *, channel: str) -> None:
    attachment.fetch_attempts += 1
    attachment.save(update_fields=["fetch_attempts"])
    try:
        fetched = get_adapter(channel).fetch_media(
            source=attachment.source, kind=attachment.kind, max_bytes=max_bytes(attachment.kind)
        )
    except MediaUnavailable as exc:
        if exc.retryable and attachment.fetch_attempts < settings.DESK_MEDIA_FETCH_ATTEMPTS:
            raise MediaFetchRetry(f"fetching attachment {attachment.pk}: {exc}") from exc
        logger.warning("attachment %s of message %s not fetched: %s", attachment.pk, attachment.message_id, exc)
        attachment_failed(attachment, code=exc.code, detail=str(exc))
        return
    if fetched.filename and not attachment.filename:
        attachment.filename = fetched.filename[:255]
    attachment_store_bytes(attachment, data=fetched.data)


def _read_image(attachment: Attachment) -> str | None:
    if attachment.ocr_status == Attachment.OcrStatus.PENDING:
        try:
            read = get_image_reader().read(data=attachment_read(attachment))
            text, ms = read.text, read.ms
        except ImageUnreadable:
            text, ms = "", None
        _text_record(attachment, text=text, ms=ms, source="ocr")
    return attachment.ocr_text if attachment.ocr_status == Attachment.OcrStatus.READ else None


def _read_voice(attachment: Attachment) -> str | None:
    if attachment.ocr_status == Attachment.OcrStatus.PENDING:
        try:
            read = get_speech_reader().read(data=attachment_read(attachment), content_type=attachment.content_type)
            text, ms = read.text, read.ms
        except SpeechUnreadable as exc:
            logger.info("voice note %s not recognised: %s", attachment.pk, exc)
            text, ms = "", None
        _text_record(attachment, text=text, ms=ms, source="speech")
    return attachment.ocr_text if attachment.ocr_status == Attachment.OcrStatus.READ else None


def _text_record(attachment: Attachment, *, text: str, ms: int | None, source: str) -> None:
    attachment.ocr_text = text.strip()
    attachment.ocr_ms = ms
    attachment.text_source = source
    attachment.ocr_status = Attachment.OcrStatus.READ if text.strip() else Attachment.OcrStatus.UNREADABLE
    attachment.save(update_fields=["ocr_text", "ocr_ms", "text_source", "ocr_status"])
