from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from django.conf import settings
from ninja import Schema
from ninja.responses import Status
from pydantic import AfterValidator, Field, StringConstraints, field_validator

from apps.conversations.channels import channel_kinds

if TYPE_CHECKING:
    from apps.conversations.services import Received


def _no_nul(value: str) -> str:
    # Postgres text cannot hold NUL: refuse it here (422) rather than fail the INSERT (500).
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _configured_channel(value: str) -> str:
    # The channels are those configured (DESK_CHANNEL_ADAPTERS), not a list fixed in the spine.
    if value not in channel_kinds():
        raise ValueError(f"unknown channel; configured: {', '.join(channel_kinds())}")
    return value


NoNul = AfterValidator(_no_nul)
ChannelKind = Annotated[str, StringConstraints(max_length=32), AfterValidator(_configured_channel)]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), NoNul]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=128), NoNul]


class InboundMessageIn(Schema):
    channel: ChannelKind
    channel_message_id: Identifier
    external_user_id: Identifier
    display_name: DisplayName = ""
    text: str = Field(min_length=1)
    # "staff": sent from the account's own phone (Wechaty); recorded as an agent message, and
    # the conversation goes to a human.
    author: Literal["customer", "staff"] = "customer"

    @field_validator("text")
    @classmethod
    def _text_fits(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        if len(value) > settings.DESK_INBOUND_MAX_CHARS:
            raise ValueError(f"text is longer than {settings.DESK_INBOUND_MAX_CHARS} characters")
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        return value


class InboundImageIn(Schema):
    """The text fields of POST /inbound/messages/image (multipart/form-data, the file in ``image``)."""

    channel: ChannelKind
    channel_message_id: Identifier
    external_user_id: Identifier
    display_name: DisplayName = ""


MediaKind = Literal["image", "voice", "video", "file"]
# Why a channel could not hand a file over (a key of media.sniff.REJECTIONS).
MediaErrorCode = Literal["not_found", "expired", "timeout", "unavailable", "too_large"]


def _basename(value: str) -> str:
    # A sender's file name is shown to agents, never used as a path: keep its last component.
    return value.replace("\\", "/").rsplit("/", 1)[-1]


class InboundMediaIn(Schema):
    """The text fields of POST /inbound/messages/media/<kind> (multipart/form-data, the file in ``file``).

    ``error_code`` (and no file): the channel could not hand the file over; the message is stored
    with the attachment failed for that reason, and a person takes it.
    """

    channel: ChannelKind
    channel_message_id: Identifier
    external_user_id: Identifier
    display_name: DisplayName = ""
    filename: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=255), NoNul, AfterValidator(_basename)
    ] = ""
    error_code: MediaErrorCode | None = None
    error: Annotated[str, StringConstraints(max_length=500), NoNul] = ""


class InboundMessageOut(Schema):
    message_id: int
    conversation_id: int
    duplicate: bool


class AttachmentOut(Schema):
    id: int
    kind: str
    # stored, or failed (error_code says why: wrong_type, corrupt, too_large, unavailable...).
    status: str
    error_code: str
    content_type: str
    size_bytes: int | None


class InboundMediaOut(InboundMessageOut):
    attachment: AttachmentOut | None


def inbound_ack(received: "Received") -> Status[InboundMessageOut]:
    """202 for a message stored now, 200 (duplicate) for a redelivery of one stored before."""
    out = InboundMessageOut(
        message_id=received.message.pk,
        conversation_id=received.message.conversation_id,
        duplicate=not received.created,
    )
    return Status(202 if received.created else 200, out)


def inbound_media_ack(received: "Received") -> Status[InboundMediaOut]:
    """Like inbound_ack, with what became of the file (a bad one is stored failed, not refused)."""
    from apps.conversations.models import Attachment

    attachment = Attachment.objects.filter(message_id=received.message.pk, role=Attachment.Role.MAIN).first()
    out = InboundMediaOut(
        message_id=received.message.pk,
        conversation_id=received.message.conversation_id,
        duplicate=not received.created,
        attachment=AttachmentOut.model_validate(attachment, from_attributes=True) if attachment else None,
    )
    return Status(202 if received.created else 200, out)


class ErrorOut(Schema):
    detail: str


class MessageOut(Schema):
    id: int
    direction: str
    author_kind: str
    body: str
    status: str
    created_at: datetime
    # Which customer message a reply answers, so a client can tell one answer from two.
    reply_to_id: int | None = None
