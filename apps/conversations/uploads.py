"""The API layer's side of customer uploads: parsing a multipart request before anything is stored.

The inbound and simulator APIs take images (and the inbound API any media) as multipart/form-data.
Only what can be judged before reading is refused here: a declared length over the kind's limit
(413), a body that is not multipart (415), bad form fields (422). The bytes themselves are judged
by the domain: attachments.image_inspect refuses a bad image on the image endpoints, and
media/receive.py stores any other bad file as a failed attachment.
"""

from typing import TypeVar

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest
from ninja import Schema
from ninja.errors import HttpError, ValidationError
from pydantic import ValidationError as PydanticValidationError

from apps.conversations.attachments import image_too_large
from apps.conversations.media.sniff import max_bytes

# Multipart boundaries and the small text fields around the file.
_FORM_OVERHEAD = 64 * 1024

S = TypeVar("S", bound=Schema)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _form_parse(request: HttpRequest, *, schema: type[S], limit: int, too_large: str, what: str) -> S:
    # The declared length is checked before Django reads the body, so an oversized upload is
    # refused without spooling it to disk.
    if _declared_length(request) > limit + _FORM_OVERHEAD:
        raise HttpError(413, too_large)
    if not (request.content_type or "").startswith("multipart/form-data"):
        raise HttpError(415, f"send the {what} as multipart/form-data")
    try:
        return schema.model_validate({key: request.POST.get(key) for key in request.POST})
    except PydanticValidationError as exc:
        raise ValidationError([{"loc": ("form", *e["loc"]), "msg": e["msg"]} for e in exc.errors()]) from exc


def _upload(request: HttpRequest, field: str) -> UploadedFile | None:
    upload = request.FILES.get(field)
    return upload if isinstance(upload, UploadedFile) else None


def image_upload_parse(request: HttpRequest, *, schema: type[S], field: str = "image") -> tuple[S, bytes]:
    """The form's fields (validated by ``schema``) and the image bytes; 413/422 before storing anything."""
    limit = settings.DESK_IMAGE_MAX_BYTES
    form = _form_parse(request, schema=schema, limit=limit, too_large=image_too_large().detail, what="image")
    upload = _upload(request, field)
    if upload is None:
        raise ValidationError([{"loc": ("form", field), "msg": "an image file is required"}])
    if upload.size is not None and upload.size > limit:
        raise HttpError(413, image_too_large().detail)
    return form, upload.read()


def media_upload_parse(
    request: HttpRequest, *, schema: type[S], kind: str, field: str = "file"
) -> tuple[S, bytes | None]:
    """The form's fields and the file's bytes (None when the form reports the file missing).

    Past the declared-length check the bytes are not judged here: a file that turns out too
    large, empty or not what it claims is stored as a failed attachment, so the message stays.
    """
    limit = max_bytes(kind)
    too_large = f"the {kind} is larger than {limit / (1024 * 1024):g} MB"
    form = _form_parse(request, schema=schema, limit=limit, too_large=too_large, what=kind)
    upload = _upload(request, field)
    if upload is None:
        if getattr(form, "error_code", None):
            return form, None
        raise ValidationError([{"loc": ("form", field), "msg": "a file is required (or error_code)"}])
    if getattr(form, "error_code", None):
        raise ValidationError([{"loc": ("form", "error_code"), "msg": "send either a file or error_code"}])
    # One byte over the limit is enough for the check to record it too large; no need to hold more.
    return form, upload.read(limit + 1)
