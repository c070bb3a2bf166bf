"""A customer's media, out of the SDK: files as bytes, links and mini programs as text; and the
FileBox a file the desk queued goes out in.

python-wechaty 0.10.7 has no ``FileBox.to_bytes()`` (``to_base64()`` returns ""): the bytes are
read from the box itself, a base64 box decoded, a URL box downloaded with a size limit.
"""

import asyncio
import base64
import binascii
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from workers.wechaty_bridge.protocol import MEDIA_LIMITS

log = logging.getLogger("wechaty_bridge")

# MessageType (after the SDK's mapping from the TypeScript puppet) -> the desk's media kind.
_FILE_KINDS = {
    "MESSAGE_TYPE_IMAGE": "image",
    "MESSAGE_TYPE_AUDIO": "voice",
    "MESSAGE_TYPE_VIDEO": "video",
    "MESSAGE_TYPE_ATTACHMENT": "file",
}
_TEXT_KINDS = frozenset({"MESSAGE_TYPE_URL", "MESSAGE_TYPE_MINI_PROGRAM"})
_ATTEMPTS = 3


class MediaError(Exception):
    """The file could not be had. ``code``: what the desk records (sniff.REJECTIONS keys)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Media:
    kind: str
    filename: str = ""
    data: bytes | None = None
    error_code: str = ""
    error: str = ""


def is_media(message_type: Any) -> bool:
    name = getattr(message_type, "name", "")
    return name in _FILE_KINDS or name in _TEXT_KINDS


async def media_text(msg: Any) -> str:
    """A link or a mini program, as the text a person (and the bot) can read."""
    is_link = msg.type().name == "MESSAGE_TYPE_URL"
    try:
        if is_link:
            link = (await msg.to_url_link()).payload
            lines = [f"[链接] {link.title or ''}".rstrip(), link.description or "", link.url or ""]
        else:
            app = (await msg.to_mini_program()).payload
            lines = [f"[小程序] {app.title or app.description or ''}".rstrip(), app.appid or "", app.pagePath or ""]
    except Exception as exc:
        # The customer still shared something: the label reaches the desk, and a person can ask.
        log.warning("%s of message %s not read: %r", "link" if is_link else "mini program", msg.message_id, exc)
        return "[链接]" if is_link else "[小程序]"
    return "\n".join(line for line in lines if line.strip())


def media_kind(msg: Any) -> str | None:
    """The desk's kind for a message carrying a file; None for a link or mini program."""
    return _FILE_KINDS.get(msg.type().name)


async def media_fetch(msg: Any, *, kind: str, http: httpx.AsyncClient, timeout: float) -> Media:
    """The file, or why it could not be had; a puppet error is tried again a few times."""
    limit = MEDIA_LIMITS[kind]
    error = MediaError("unavailable", "no attempt made")
    for attempt in range(_ATTEMPTS):
        try:
            box = await asyncio.wait_for(_file_box(msg, kind), timeout)
            data = await asyncio.wait_for(file_box_bytes(box, limit=limit, http=http), timeout)
            return Media(kind=kind, filename=str(box.name or ""), data=data)
        except MediaError as exc:
            return Media(kind=kind, error_code=exc.code, error=exc.detail)
        except TimeoutError:
            error = MediaError("timeout", f"the puppet did not hand the {kind} over within {timeout:g}s")
        except Exception as exc:
            error = MediaError("unavailable", f"the puppet could not hand the {kind} over: {exc!r}"[:500])
        log.warning("%s of message %s not fetched (try %d): %s", kind, msg.message_id, attempt + 1, error.detail)
        await asyncio.sleep(0.5 * 2**attempt)
    return Media(kind=kind, error_code=error.code, error=error.detail)


async def _file_box(msg: Any, kind: str) -> Any:
    if kind != "image":
        return await msg.to_file_box()
    from wechaty_puppet import ImageType

    # The original first (to_file_box() would ask for it too, with no fallback); a puppet that
    # keeps only the HD copy or the thumbnail still gives something OCR can read.
    last: Exception | None = None
    for image_type in (ImageType.IMAGE_TYPE_ARTWORK, ImageType.IMAGE_TYPE_HD, ImageType.IMAGE_TYPE_THUMBNAIL):
        try:
            return await msg.puppet.message_image(msg.message_id, image_type)
        except Exception as exc:
            last = exc
    assert last is not None
    raise last


async def file_box_bytes(box: Any, *, limit: int, http: httpx.AsyncClient) -> bytes:
    box_type = box.type().name
    if box_type == "Base64":
        encoded = box.base64
        if len(encoded) * 3 // 4 > limit:
            raise MediaError("too_large", f"the file is larger than {limit / (1024 * 1024):g} MB")
        try:
            return base64.b64decode(encoded)
        except (binascii.Error, ValueError) as exc:
            raise MediaError("corrupt", "the puppet's file box is not valid base64") from exc
    if box_type == "Url":
        return await _download(box.remoteUrl, headers=box.headers or {}, limit=limit, http=http)
    if box_type in ("Buffer", "Stream"):
        data: bytes = box.buffer if box_type == "Buffer" else box.stream
        return data
    raise MediaError("unavailable", f"a {box_type} file box carries no file")


async def _download(url: str, *, headers: dict[str, str], limit: int, http: httpx.AsyncClient) -> bytes:
    try:
        async with http.stream("GET", url, headers=headers) as response:
            if response.status_code == 404:
                raise MediaError("not_found", "the file's URL answered 404")
            if response.status_code >= 400:
                # Worth another try (a CDN hiccup): not a MediaError.
                raise RuntimeError(f"the file's URL answered {response.status_code}")
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise MediaError("too_large", f"the file is larger than {limit / (1024 * 1024):g} MB")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.TimeoutException as exc:
        raise TimeoutError(str(exc)) from exc


def file_box_of(data: bytes, *, filename: str, content_type: str) -> Any:
    """The FileBox a queued file goes out in: the puppet picks image, video or file from its name."""
    from wechaty_puppet import FileBox

    box = FileBox.from_base64(base64.b64encode(data), name=filename)
    box.mediaType = content_type
    return box
