"""Handing a stored file back to a browser: the console's agents and the simulator's customer.

The bytes are decrypted in memory and answered with the sniffed type, never the sender's; a
browser is told not to guess (nosniff), not to keep a copy (no-store) and, for anything but an
image, to treat the response as a sandboxed document. Thumbnails are made on the fly and never
written anywhere: plaintext does not touch the disk.
"""

import io
import unicodedata

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from PIL import Image, ImageOps

from apps.conversations.media.sniff import EXTENSIONS
from apps.conversations.models import Attachment

THUMB_MAX = 320  # px, the longer side
_INLINE_KINDS = frozenset({"image", "voice", "video"})


def safe_filename(attachment: Attachment, *, content_type: str = "") -> str:
    """The sender's name without paths or control characters, or one made from the kind and id;
    the extension always follows the bytes' type when the name has none."""
    name = (attachment.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")[:200]
    extension = EXTENSIONS.get(content_type or attachment.content_type, "bin")
    if not name:
        return f"{attachment.kind}-{attachment.pk}.{extension}"
    return name if "." in name else f"{name}.{extension}"


def thumbnail_jpeg(data: bytes, *, size: int = THUMB_MAX) -> bytes:
    """A JPEG at most ``size`` px on its longer side (the first frame of an animation)."""
    with Image.open(io.BytesIO(data)) as source:
        image = ImageOps.exif_transpose(source) or source
        image.thumbnail((size, size))
        if image.mode in ("RGBA", "LA", "P"):
            image = image.convert("RGBA")
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        elif image.mode != "RGB":
            image = image.convert("RGB")
        out = io.BytesIO()
        image.save(out, "JPEG", quality=80, optimize=True)
        return out.getvalue()


def media_response(
    *, attachment: Attachment, data: bytes, content_type: str, as_attachment: bool | None = None
) -> HttpResponse:
    """The bytes with the headers that keep a browser from misreading or keeping them."""
    if as_attachment is None:
        as_attachment = attachment.kind not in _INLINE_KINDS
    response = HttpResponse(data, content_type=content_type or "application/octet-stream")
    response["Content-Length"] = str(len(data))
    disposition = content_disposition_header(as_attachment, safe_filename(attachment, content_type=content_type))
    response["Content-Disposition"] = disposition or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    if not content_type.startswith("image/"):
        # Opened directly (a PDF, an HTML-looking text file), it runs nothing and reaches nothing.
        response["Content-Security-Policy"] = "sandbox; default-src 'none'; media-src 'self'"
    return response
