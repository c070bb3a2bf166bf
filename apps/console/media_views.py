"""Customer and agent media in the console: the files themselves, and an agent's attachment.

Wrapped by AdminSite.admin_view (login, staff) like every console view, plus agent_required.
Files are decrypted in memory only: an upload is read into memory (never spooled to a
temporary file), a thumbnail or a browser-playable voice note is made per request.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler, StopUpload
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST
from PIL import UnidentifiedImageError

from apps.console import services
from apps.console.views import agent_required
from apps.conversations.media.serve import media_response, thumbnail_jpeg
from apps.conversations.media.sniff import REJECTIONS, content_type_sniff, kind_of, max_bytes
from apps.conversations.media.store import attachment_read
from apps.conversations.models import Attachment, Conversation

logger = logging.getLogger(__name__)

# What browsers cannot play: WeChat's voice notes. apps.speech converts them.
_CONVERT_AUDIO = frozenset({"audio/amr", "audio/silk"})
_FORM_OVERHEAD = 64 * 1024


def browser_audio(data: bytes, content_type: str) -> tuple[bytes, str]:
    """A voice note a browser's <audio> plays; the original when it already can, or when the
    conversion is unavailable (the player then offers it for download)."""
    if content_type not in _CONVERT_AUDIO:
        return data, content_type
    try:
        from apps.speech.convert import to_browser_audio

        return to_browser_audio(data, content_type)
    except Exception:  # no ffmpeg, a damaged note: the agent still gets the file
        logger.warning("voice note not converted for the browser", exc_info=True)
        return data, content_type


@require_GET
@agent_required
def media(request: HttpRequest, attachment_id: int) -> HttpResponse:
    attachment = Attachment.objects.filter(pk=attachment_id, status=Attachment.Status.STORED).first()
    if attachment is None:
        raise Http404("no such file")
    try:
        data = attachment_read(attachment)
    except FileNotFoundError as exc:
        raise Http404("the file is gone") from exc
    content_type = attachment.content_type
    if request.GET.get("size") == "thumb":
        if not content_type.startswith("image/"):
            raise Http404("no thumbnail for this file")
        try:
            data, content_type = thumbnail_jpeg(data), "image/jpeg"
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            raise Http404("no thumbnail for this file") from exc
    elif attachment.kind == Attachment.Kind.VOICE:
        data, content_type = browser_audio(data, content_type)
    return media_response(attachment=attachment, data=data, content_type=content_type)


class _MemoryOnlyUpload(MemoryFileUploadHandler):
    """Keep an upload of any allowed size in memory (Django spools big ones to a temporary file)."""

    too_large = False

    def handle_raw_input(self, *args: Any, **kwargs: Any) -> None:
        super().handle_raw_input(*args, **kwargs)
        self.activated = True

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > settings.DESK_MEDIA_MAX_BYTES:
            self.too_large = True
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


def _too_large(limit: int) -> JsonResponse:
    return JsonResponse(
        {"error": _("The file is too large to send: at most %(mb)s MB.") % {"mb": f"{limit / (1024 * 1024):g}"}},
        status=413,
    )


@csrf_exempt  # the CSRF check below runs once the upload handler is in place
def media_upload(request: HttpRequest, conversation_id: int) -> HttpResponse:
    handler = _MemoryOnlyUpload(request)
    request.upload_handlers = [handler]
    return _media_upload(request, conversation_id, handler)


@csrf_protect
@require_POST
@agent_required
def _media_upload(request: HttpRequest, conversation_id: int, handler: _MemoryOnlyUpload) -> HttpResponse:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > settings.DESK_MEDIA_MAX_BYTES + _FORM_OVERHEAD:
        return _too_large(settings.DESK_MEDIA_MAX_BYTES)
    upload = request.FILES.get("file")
    if handler.too_large:
        return _too_large(settings.DESK_MEDIA_MAX_BYTES)
    if upload is None:
        return JsonResponse({"error": _("Choose a file to send.")}, status=400)
    data = upload.read()
    user: Any = request.user
    try:
        message = services.agent_reply_media(
            conversation_id=conversation_id, agent=user, data=data, filename=upload.name or ""
        )
    except services.MediaNotSent as exc:
        return _refused(exc, data)
    except services.ReplyBlocked:
        return JsonResponse({"error": _("Not sent: the picture contains blocked content.")}, status=422)
    except services.HandoffError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    except Conversation.DoesNotExist:
        return JsonResponse({"error": "no such conversation"}, status=404)
    return JsonResponse({"ok": True, "message_id": message.pk})


def _refused(exc: services.MediaNotSent, data: bytes) -> JsonResponse:
    kind = kind_of(content_type_sniff(data))
    if exc.code == "too_large":
        return _too_large(max_bytes(kind))
    if exc.code == "channel":
        label = Attachment.Kind(kind).label if kind in Attachment.Kind.values else kind
        text = _("This channel cannot send this kind of file (%(kind)s).") % {"kind": label}
        return JsonResponse({"error": text}, status=415)
    reason = REJECTIONS.get(exc.code)
    return JsonResponse({"error": _("Not sent: %(reason)s.") % {"reason": reason or str(exc)}}, status=422)
