"""The simulator's customer sees the media of their own conversation: what they sent and what an
agent sent them. The page knows its customer only by the random id it made up (as the simulator
API and websocket do), so a file is served only to a request that names the customer whose
conversation holds it; anyone else gets 404, as for a file that does not exist.
"""

import re

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.conversations.media.serve import media_response, thumbnail_jpeg
from apps.conversations.media.store import attachment_read
from apps.conversations.models import Attachment, Message
from apps.wechat.channels import SIMULATOR

_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# Replies the customer has not received (still processing, refused) are not theirs to see yet.
_NOT_SENT = [Message.Status.PROCESSING, Message.Status.FAILED]


def _customer_attachments(request: HttpRequest) -> tuple[str, QuerySet[Attachment]]:
    if not settings.SIMULATOR_ENABLED:
        raise Http404("the simulator is disabled")
    customer_id = request.GET.get("customer_id", "")
    if not _CUSTOMER_ID.match(customer_id):
        raise Http404("no such customer")
    found = (
        Attachment.objects.filter(
            role=Attachment.Role.MAIN,
            status=Attachment.Status.STORED,
            message__conversation__customer__channel=SIMULATOR,
            message__conversation__customer__external_id=customer_id,
        )
        .exclude(message__direction=Message.Direction.OUTBOUND, message__status__in=_NOT_SENT)
        .select_related("message")
    )
    return customer_id, found


@require_GET
def media_list(request: HttpRequest) -> JsonResponse:
    """The customer's stored files on messages after ``after``: the page puts them in the bubbles."""
    customer_id, found = _customer_attachments(request)
    try:
        after = max(0, int(request.GET.get("after") or 0))
    except ValueError:
        after = 0
    rows = found.filter(message_id__gt=after).order_by("message_id")[:200]
    items = []
    for attachment in rows:
        url = f"{reverse('simulator-media', args=[attachment.pk])}?customer_id={customer_id}"
        items.append(
            {
                "message_id": attachment.message_id,
                "id": attachment.pk,
                "kind": attachment.kind,
                "filename": attachment.filename,
                "size": attachment.size_bytes,
                "url": url,
                "thumb_url": f"{url}&size=thumb" if attachment.kind == Attachment.Kind.IMAGE else "",
            }
        )
    return JsonResponse({"media": items})


@require_GET
def media(request: HttpRequest, attachment_id: int) -> HttpResponse:
    _, found = _customer_attachments(request)
    attachment = found.filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404("no such file")
    try:
        data = attachment_read(attachment)
    except FileNotFoundError as exc:
        raise Http404("the file is gone") from exc
    content_type = attachment.content_type
    if request.GET.get("size") == "thumb" and content_type.startswith("image/"):
        data, content_type = thumbnail_jpeg(data), "image/jpeg"
    return media_response(attachment=attachment, data=data, content_type=content_type)
