"""What a file is, decided from its bytes, and whether the desk may keep it.

WeChat's own limits per kind (image 10 MB, voice 2 MB, video 10 MB, file 20 MB) apply, under a
hard cap from settings. A sender's file name or Content-Type is never trusted: the magic numbers
decide, and an image must also decode completely (no truncated JPEG, no decompression bomb).
"""

import io
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from PIL import Image

KIND_LIMITS = {"image": 10 * 1024 * 1024, "voice": 2 * 1024 * 1024, "video": 10 * 1024 * 1024, "file": 20 * 1024 * 1024}
IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif", "BMP": "image/bmp"}
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "audio/amr": "amr",
    "audio/silk": "silk",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/wav": "wav",
    "audio/mp4": "m4a",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "application/pdf": "pdf",
    "application/zip": "zip",
    "application/x-ole-storage": "doc",
    "application/octet-stream": "bin",
    "text/plain": "txt",
}
# Why a file was not kept, as recorded on the attachment (error_code); the console shows the label.
REJECTIONS = {
    "too_large": _("larger than allowed"),
    "empty": _("empty file"),
    "wrong_type": _("not the kind of file it claims to be"),
    "corrupt": _("damaged or unreadable file"),
    "not_found": _("the channel no longer has it"),
    "expired": _("the channel's media id has expired"),
    "timeout": _("download timed out"),
    "unavailable": _("the channel could not be reached"),
}


class MediaRejected(Exception):
    """The bytes are not something the desk keeps. ``code`` is a key of REJECTIONS."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class MediaInfo:
    kind: str
    content_type: str
    width: int | None = None
    height: int | None = None

    @property
    def extension(self) -> str:
        return EXTENSIONS.get(self.content_type, "bin")


def max_bytes(kind: str) -> int:
    return min(KIND_LIMITS.get(kind, KIND_LIMITS["file"]), settings.DESK_MEDIA_MAX_BYTES)


def content_type_sniff(data: bytes) -> str:
    """The content type the bytes' magic numbers say, or application/octet-stream."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"BM") and len(data) > 26:
        return "image/bmp"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    # Personal WeChat's voice notes: SILK v3, with or without Tencent's leading 0x02.
    if head.startswith(b"#!SILK_V3") or head.startswith(b"\x02#!SILK_V3"):
        return "audio/silk"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"  # also docx/xlsx/pptx, which are zip files
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/x-ole-storage"  # legacy doc/xls
    if _is_text(data[:4096]):
        return "text/plain"
    return "application/octet-stream"


def _is_text(sample: bytes) -> bool:
    if not sample or b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(sample) - 4  # a multi-byte character cut at the sample's end
    return True


def kind_of(content_type: str) -> str:
    if content_type.startswith("image/"):
        return "image"
    if content_type.startswith("audio/"):
        return "voice"
    if content_type.startswith("video/"):
        return "video"
    return "file"


def image_check(data: bytes) -> tuple[str, int, int]:
    """(content type, width, height) of a complete image of a known format and a sane decoded size."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            if width * height > settings.DESK_IMAGE_MAX_PIXELS:
                raise MediaRejected("corrupt", "the image has too many pixels")
            image.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # verify() misses truncated pixel data; decoding does not
    except MediaRejected:
        raise
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise MediaRejected("corrupt", "the file is not a readable image") from exc
    content_type = IMAGE_TYPES.get(kind or "")
    if content_type is None:
        raise MediaRejected("wrong_type", f"unsupported image format {kind}")
    return content_type, width, height


def media_inspect(data: bytes, *, kind: str) -> MediaInfo:
    """Check bytes that claim to be ``kind``; raise MediaRejected with what is wrong.

    A file sent as a file may be anything (a photo sent as a file stays a file); an image, a voice
    note or a video must be what it claims.
    """
    if not data:
        raise MediaRejected("empty", "the file is empty")
    limit = max_bytes(kind)
    if len(data) > limit:
        raise MediaRejected("too_large", f"the {kind} is larger than {limit / (1024 * 1024):g} MB")
    content_type = content_type_sniff(data)
    if kind == "file":
        return MediaInfo(kind=kind, content_type=content_type)
    if kind_of(content_type) != kind:
        raise MediaRejected("wrong_type", f"expected {kind}, the bytes are {content_type}")
    if kind == "image":
        content_type, width, height = image_check(data)
        return MediaInfo(kind=kind, content_type=content_type, width=width, height=height)
    return MediaInfo(kind=kind, content_type=content_type)
