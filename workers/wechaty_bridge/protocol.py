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


@dataclass(frozen=True)
class OutboxEntry:
    message_id: int
    to: str
    segments: list[str]

    def dumps(self) -> str:
        return json.dumps({"message_id": self.message_id, "to": self.to, "segments": self.segments}, ensure_ascii=False)

    @classmethod
    def loads(cls, raw: str | bytes) -> "OutboxEntry":
        data = json.loads(raw)
        segments = data["segments"]
        if not isinstance(segments, list) or not all(isinstance(s, str) for s in segments):
            raise ValueError("segments must be a list of strings")
        return cls(message_id=int(data["message_id"]), to=str(data["to"]), segments=segments)


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
