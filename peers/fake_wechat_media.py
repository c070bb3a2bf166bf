"""Temporary media for the fake WeChat API (peers/fake_wechat.py): cgi-bin/media/get and media/upload.

WeChat's rules, as its docs give them: media ids belong to the account that got them (another
account's token gets 40007), an unknown id is 40007 "invalid media_id"; uploads name a type the
API knows (Official Account: image, voice, video, thumb; WeCom: image, voice, video, file; 40004
otherwise), carry the bytes in the multipart field "media" (41005 without), stay within the type's
size (image 10 MB, voice 2 MB, video 10 MB, file 20 MB, thumb 64 KB; 40006) and are of a format the
type allows (40005). A message of an image, voice, video or file needs a media_id the fake issued
for that account and of that type (40007). Switches: ``not_found`` ids answer HTTP 404,
``drip_s`` makes media/get send its body in 1 KB pieces that far apart (a slow download), and
``announce_length`` False leaves out Content-Length (the size is known only by reading).
"""

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

MB = 1024 * 1024
LIMITS = {"image": 10 * MB, "voice": 2 * MB, "video": 10 * MB, "file": 20 * MB, "thumb": 64 * 1024}
TYPES = {"oa": frozenset({"image", "voice", "video", "thumb"}), "wecom": frozenset({"image", "voice", "video", "file"})}
CONTENT_TYPES = {"image": "image/jpeg", "voice": "audio/amr", "video": "video/mp4", "thumb": "image/jpeg"}
INVALID_MEDIA_ID = {"errcode": 40007, "errmsg": "invalid media_id"}


def _format_ok(kind: str, data: bytes) -> bool:
    head = data[:16]
    if kind in ("image", "thumb"):
        return head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM"))
    if kind == "voice":
        return head.startswith((b"#!AMR", b"ID3")) or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)
    if kind == "video":
        return head[4:8] == b"ftyp"
    return True


@dataclass
class Medium:
    app_id: str  # the account the media_id belongs to
    kind: str
    data: bytes = field(repr=False)
    filename: str = ""
    content_type: str = ""
    uploaded: bool = False  # through media/upload (the desk's), not registered by a test


@dataclass
class Raw:
    """A non-JSON answer: a file, sent at once or dripped."""

    body: bytes = field(repr=False)
    content_type: str = "application/octet-stream"
    filename: str = ""
    drip_s: float = 0.0
    announce_length: bool = True  # False: no Content-Length, the body ends when the connection does


@dataclass
class FakeMedia:
    media: dict[str, Medium] = field(default_factory=dict)
    pictures: dict[str, bytes] = field(default_factory=dict)  # PicUrl path -> bytes
    uploads: list[Medium] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)  # media ids asked for, in order
    not_found: set[str] = field(default_factory=set)
    drip_s: float = 0.0
    announce_length: bool = True
    _ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what the tests tell the fake -------------------------------------------------------
    def register(self, app_id: str, kind: str, data: bytes, *, filename: str = "", content_type: str = "") -> str:
        """A file a customer sent: WeChat holds it under a media_id of the account it was sent to."""
        with self._lock:
            media_id = f"MEDIA_{kind}_{next(self._ids)}"
            self.media[media_id] = Medium(app_id, kind, data, filename, content_type or CONTENT_TYPES.get(kind, ""))
        return media_id

    def picture(self, data: bytes) -> str:
        """A path WeChat's image CDN would serve a customer's picture at (an image's PicUrl)."""
        with self._lock:
            path = f"/mmbiz_jpg/{next(self._ids)}/0"
            self.pictures[path] = data
        return path

    # --- the protocol -------------------------------------------------------------------------
    def get(self, app_id: str, media_id: str) -> tuple[int, Any]:
        with self._lock:
            self.gets.append(media_id)
            medium = self.media.get(media_id)
            if media_id in self.not_found:
                return 404, {"error": "not found"}
        if medium is None or medium.app_id != app_id:
            return 200, INVALID_MEDIA_ID
        return 200, Raw(medium.data, medium.content_type, medium.filename, self.drip_s, self.announce_length)

    def upload(self, api: str, app_id: str, kind: str, files: dict[str, tuple[str, str, bytes]]) -> dict[str, Any]:
        if kind not in TYPES[api]:
            return {"errcode": 40004, "errmsg": "invalid media type"}
        if "media" not in files or not files["media"][2]:
            return {"errcode": 41005, "errmsg": "media data missing"}
        filename, content_type, data = files["media"]
        if len(data) > LIMITS[kind]:
            return {"errcode": 40006, "errmsg": "invalid meida size"}  # sic, as WeChat spells it
        if not _format_ok(kind, data):
            return {"errcode": 40005, "errmsg": "invalid file type"}
        medium = Medium(app_id, kind, data, filename, content_type, uploaded=True)
        with self._lock:
            media_id = f"UPLOADED_{kind}_{next(self._ids)}"
            self.media[media_id] = medium
            self.uploads.append(medium)
        key = "thumb_media_id" if kind == "thumb" else "media_id"
        return {"errcode": 0, "errmsg": "ok", "type": kind, key: media_id, "created_at": int(time.time())}

    def sendable(self, app_id: str, kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """None when ``body`` (a send of ``kind``) names a media_id this account may send, else the error."""
        part = body.get(kind)
        media_id = part.get("media_id") if isinstance(part, dict) else None
        with self._lock:
            medium = self.media.get(str(media_id))
        if medium is None or medium.app_id != app_id or medium.kind != kind:
            return INVALID_MEDIA_ID
        return None
