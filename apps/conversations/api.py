"""Inbound API for machine clients (the Wechaty bridge, integrations)."""

import hmac

from django.conf import settings
from django.http import HttpRequest
from ninja import Router
from ninja.responses import Status
from ninja.security import HttpBearer

from apps.conversations import attachments, services, uploads
from apps.conversations.schemas import ErrorOut, InboundImageIn, InboundMessageIn, InboundMessageOut, inbound_ack
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
