"""Inbound API for machine clients (the Wechaty bridge, integrations)."""

import hmac

from django.conf import settings
from django.http import HttpRequest
from ninja import Router
from ninja.responses import Status
from ninja.security import HttpBearer

from apps.conversations import attachments, services, uploads
from apps.conversations.media.receive import InboundMedia
from apps.conversations.schemas import (
    ErrorOut,
    InboundImageIn,
    InboundMediaIn,
    InboundMediaOut,
    InboundMessageIn,
    InboundMessageOut,
    MediaKind,
    inbound_ack,
    inbound_media_ack,
)
from apps.core.models import ApiToken
from apps.core.services import api_token_authenticate


class InboundToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> str | None:
        # The settings token bootstraps a fresh install; issued tokens (admin: API tokens) are
        # per client, scoped and revocable.
        expected = settings.DESK_INBOUND_API_TOKEN
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            return "settings-token"
        issued = api_token_authenticate(raw=token, scope=ApiToken.Scope.INBOUND)
        return issued.name if issued is not None else None


router = Router(tags=["inbound"], auth=InboundToken())


@router.post(
    "/messages",
    response={200: InboundMessageOut, 202: InboundMessageOut, 401: ErrorOut, 413: ErrorOut, 422: ErrorOut},
    summary="Receive one customer message (idempotent on channel + channel_message_id)",
)
def receive_message(request: HttpRequest, payload: InboundMessageIn) -> Status[InboundMessageOut]:
    if payload.author == "staff":
        received = services.staff_message_record(
            channel=payload.channel,
            external_user_id=payload.external_user_id,
            display_name=payload.display_name,
            channel_message_id=payload.channel_message_id,
            body=payload.text,
        )
    else:
        # The caller's address (the bridge's, for Wechaty) goes to the audit log with the exchange.
        received = services.message_receive(
            channel=payload.channel,
            external_user_id=payload.external_user_id,
            display_name=payload.display_name,
            channel_message_id=payload.channel_message_id,
            body=payload.text,
            client_ip=request.META.get("REMOTE_ADDR"),
        )
    return inbound_ack(received)


@router.post(
    "/messages/image",
    response={
        200: InboundMessageOut,
        202: InboundMessageOut,
        401: ErrorOut,
        413: ErrorOut,
        415: ErrorOut,
        422: ErrorOut,
    },
    summary="Receive one customer image (multipart/form-data: the InboundImageIn fields and the file in `image`)",
)
def receive_image(request: HttpRequest) -> Status[InboundMessageOut]:
    form, data = uploads.image_upload_parse(request, schema=InboundImageIn)
    received = attachments.message_receive_image(
        channel=form.channel,
        external_user_id=form.external_user_id,
        display_name=form.display_name,
        channel_message_id=form.channel_message_id,
        data=data,
        client_ip=request.META.get("REMOTE_ADDR"),
    )
    return inbound_ack(received)


@router.post(
    "/messages/media/{kind}",
    response={
        200: InboundMediaOut,
        202: InboundMediaOut,
        401: ErrorOut,
        413: ErrorOut,
        415: ErrorOut,
        422: ErrorOut,
    },
    summary="Receive one customer image, voice note, video or file (multipart/form-data, the file in `file`)",
)
def receive_media(request: HttpRequest, kind: MediaKind) -> Status[InboundMediaOut]:
    """Unlike /messages/image, a file that is not what ``kind`` says (or is damaged) is not refused:
    the message is stored with the attachment failed and why, and a person takes it. The kind is
    in the path so the declared length can be judged against its limit before the body is read."""
    form, data = uploads.media_upload_parse(request, schema=InboundMediaIn, kind=kind)
    media = InboundMedia(
        kind=kind, data=data, filename=form.filename, error_code=form.error_code or "", error=form.error
    )
    received = services.message_receive(
        channel=form.channel,
        external_user_id=form.external_user_id,
        display_name=form.display_name,
        channel_message_id=form.channel_message_id,
        body=media.body(),
        client_ip=request.META.get("REMOTE_ADDR"),
        media=media,
    )
    return inbound_media_ack(received)
