"""What the desk and the bridge agree on: Redis key names, the outbox entry, the external ids.

Dependency-free, so the desk's adapter (apps/wechat/adapters/wechaty.py) imports it too.
"""

import json
from dataclasses import dataclass

CHANNEL = "wechaty"
# A group member is a customer of their own: "room:<room id>/<member id>".
_ROOM_PREFIX = "room:"


def outbox_key(bridge: str) -> str:
    return f"wechaty:{bridge}:outbox"


def queued_key(bridge: str, message_id: int) -> str:
    return f"wechaty:{bridge}:queued:{message_id}"


def heartbeat_key(bridge: str) -> str:
    return f"wechaty:{bridge}:heartbeat"


def outbox_media_key(bridge: str, message_id: int) -> str:
    """The bytes of a file the desk queued: kept beside the stream so its entries stay small."""
    return f"wechaty:{bridge}:outmedia:{message_id}"


# WeChat's own limits per kind; the desk applies the same (apps/conversations/media/sniff.py).
# The bridge checks them before uploading, so an oversized file is reported, not sent.
MEDIA_LIMITS = {
    "image": 10 * 1024 * 1024,
    "voice": 2 * 1024 * 1024,
    "video": 10 * 1024 * 1024,
    "file": 20 * 1024 * 1024,
}


@dataclass(frozen=True)
class OutboxMedia:
    """A file to send after the text segments; its bytes wait under outbox_media_key."""

    kind: str  # image | video | file
    filename: str
    content_type: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "filename": self.filename, "content_type": self.content_type}


@dataclass(frozen=True)
class OutboxEntry:
    message_id: int
    to: str
    segments: list[str]
    media: OutboxMedia | None = None

    @property
    def parts(self) -> int:
        """What goes out, in order: each text segment, then the file; progress counts these."""
        return len(self.segments) + (1 if self.media is not None else 0)

    def dumps(self) -> str:
        data: dict[str, object] = {"message_id": self.message_id, "to": self.to, "segments": self.segments}
        if self.media is not None:
            data["media"] = self.media.as_dict()
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def loads(cls, raw: str | bytes) -> "OutboxEntry":
        data = json.loads(raw)
        segments = data["segments"]
        if not isinstance(segments, list) or not all(isinstance(s, str) for s in segments):
            raise ValueError("segments must be a list of strings")
        media = None
        if data.get("media") is not None:
            raw_media = data["media"]
            media = OutboxMedia(
                kind=str(raw_media["kind"]),
                filename=str(raw_media["filename"]),
                content_type=str(raw_media["content_type"]),
            )
        return cls(message_id=int(data["message_id"]), to=str(data["to"]), segments=segments, media=media)


@dataclass(frozen=True)
class Address:
    """Where a customer is reached: a private chat, or a member inside a group chat."""

    contact_id: str
    room_id: str | None = None

    @property
    def external_id(self) -> str:
        if self.room_id is None:
            return self.contact_id
        return f"{_ROOM_PREFIX}{self.room_id}/{self.contact_id}"

    @classmethod
    def parse(cls, external_id: str) -> "Address":
        if external_id.startswith(_ROOM_PREFIX):
            room_id, _, contact_id = external_id.removeprefix(_ROOM_PREFIX).rpartition("/")
            if room_id and contact_id:
                return cls(contact_id=contact_id, room_id=room_id)
        return cls(contact_id=external_id)
