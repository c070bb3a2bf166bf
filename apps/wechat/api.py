"""The browser simulator's API: a customer writes and reads their own conversation."""

from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Router
from ninja.errors import HttpError
from ninja.responses import Status

from apps.conversations import attachments, selectors, services, uploads
from apps.conversations.schemas import ErrorOut, InboundMessageOut, MessageOut, inbound_ack
from apps.wechat.channels import SIMULATOR
from apps.wechat.schemas import SimulatorCustomerId, SimulatorImageIn, SimulatorMessageIn, SimulatorMessagesOut

router = Router(tags=["simulator"])


def _require_enabled() -> None:
    if not settings.SIMULATOR_ENABLED:
        raise HttpError(404, "the simulator is disabled")


@router.post("/messages", response={200: InboundMessageOut, 202: InboundMessageOut, 404: ErrorOut, 422: ErrorOut})
def send_message(request: HttpRequest, payload: SimulatorMessageIn) -> Status[InboundMessageOut]:
    _require_enabled()
    received = services.message_receive(
        channel=SIMULATOR,
        external_user_id=payload.customer_id,
        display_name=payload.display_name,
        channel_message_id=payload.client_message_id,
        body=payload.text,
        client_ip=request.META.get("REMOTE_ADDR"),
    )
    return inbound_ack(received)


@router.post(
    "/messages/image",
    response={
        200: InboundMessageOut,
        202: InboundMessageOut,
        404: ErrorOut,
        413: ErrorOut,
        415: ErrorOut,
        422: ErrorOut,
    },
)
def send_image(request: HttpRequest) -> Status[InboundMessageOut]:
    _require_enabled()
    form, data = uploads.image_upload_parse(request, schema=SimulatorImageIn)
    received = attachments.message_receive_image(
        channel=SIMULATOR,
        external_user_id=form.customer_id,
        display_name=form.display_name,
        channel_message_id=form.client_message_id,
        data=data,
        client_ip=request.META.get("REMOTE_ADDR"),
    )
    return inbound_ack(received)


@router.get("/messages", response={200: SimulatorMessagesOut, 404: ErrorOut, 422: ErrorOut})
def list_messages(
    request: HttpRequest, customer_id: Query[SimulatorCustomerId], after: Query[int] = 0
) -> SimulatorMessagesOut:
    _require_enabled()
    rows = selectors.customer_messages_after(channel=SIMULATOR, external_id=customer_id, after_id=max(after, 0))
    return SimulatorMessagesOut(messages=[MessageOut.from_orm(row) for row in rows])
