"""The API layer's side of customer images: parsing a multipart upload before anything is stored.

The inbound and simulator APIs take the image as multipart/form-data; the domain checks of the
bytes themselves (size, format, decompression bombs) are attachments.image_inspect's.
"""

from typing import TypeVar

from django.conf import settings
from django.http import HttpRequest
from ninja import Schema
from ninja.errors import HttpError, ValidationError
from pydantic import ValidationError as PydanticValidationError

from apps.conversations.attachments import image_too_large

# Multipart boundaries and the small text fields around the file.
_FORM_OVERHEAD = 64 * 1024

S = TypeVar("S", bound=Schema)


def image_upload_parse(request: HttpRequest, *, schema: type[S], field: str = "image") -> tuple[S, bytes]:
    """The form's fields (validated by ``schema``) and the image bytes; 413/422 before storing anything.

    The declared length is checked before Django reads the body, so an oversized upload is refused
    without spooling it to disk.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > settings.DESK_IMAGE_MAX_BYTES + _FORM_OVERHEAD:
        raise HttpError(413, image_too_large().detail)
    if not (request.content_type or "").startswith("multipart/form-data"):
        raise HttpError(415, "send the image as multipart/form-data")
    try:
        form = schema.model_validate({key: request.POST.get(key) for key in request.POST})
    except PydanticValidationError as exc:
        raise ValidationError([{"loc": ("form", *e["loc"]), "msg": e["msg"]} for e in exc.errors()]) from exc
    upload = request.FILES.get(field)
    if upload is None:
        raise ValidationError([{"loc": ("form", field), "msg": "an image file is required"}])
    if upload.size is not None and upload.size > settings.DESK_IMAGE_MAX_BYTES:
        raise HttpError(413, image_too_large().detail)
    return form, upload.read()
