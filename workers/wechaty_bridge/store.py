"""The bridge's Redis state: the inbox it forwards from, the outbox it sends from, and the
marks that keep both exactly-once enough (segments already sent, messages it sent itself).

A customer's file waits beside the inbox under its message id, its entry in the list staying
small; a file the desk queued waits beside the outbox the same way (protocol.outbox_media_key)."""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from workers.wechaty_bridge.protocol import OutboxEntry, heartbeat_key, outbox_key, outbox_media_key

_GROUP = "bridge"
# One bridge process per account: a fixed consumer name lets a restart pick up its pending entries.
_CONSUMER = "bridge"
_PROGRESS_TTL = 7 * 24 * 3600
_OWN_TTL = 24 * 3600
_FINGERPRINT_TTL = 300
# As long as the desk may be down before an inbound file is given up (reported as expired).
_INBOX_MEDIA_TTL = 7 * 24 * 3600


@dataclass(frozen=True)
class Outgoing:
    stream_id: str
    entry: OutboxEntry | None  # None when the stream entry cannot be parsed


def _fingerprint(conversation_id: str, text: str) -> str:
    return hashlib.sha256(f"{conversation_id}\x00{text}".encode()).hexdigest()[:32]


class Store:
    def __init__(self, *, url: str, bridge: str) -> None:
        # Any: redis-py types replies as unions of str and bytes; this class reads them itself.
        self.redis: Any = aioredis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
        self.bridge = bridge
        self._prefix = f"wechaty:{bridge}"
        self._inbox = f"{self._prefix}:inbox"
        self._taken = f"{self._prefix}:inbox:taken"
        self._outbox = outbox_key(bridge)

    async def close(self) -> None:
        await self.redis.aclose()

    async def heartbeat(self, state: dict[str, Any], *, ttl: float) -> None:
        await self.redis.set(heartbeat_key(self.bridge), json.dumps(state), px=int(ttl * 1000))

    # --- inbox: messages on their way to the desk; survives a bridge restart ---------------
    async def inbox_push(self, item: dict[str, Any]) -> None:
        await self.redis.rpush(self._inbox, json.dumps(item, ensure_ascii=False))

    async def inbox_recover(self) -> int:
        """Put back what a previous run took but never finished forwarding."""
        moved = 0
        while await self.redis.lmove(self._taken, self._inbox, "RIGHT", "LEFT") is not None:
            moved += 1
        return moved

    async def inbox_take(self, *, timeout: int) -> bytes | None:
        raw: bytes | None = await self.redis.blmove(self._inbox, self._taken, timeout, "LEFT", "RIGHT")
        return raw

    async def inbox_done(self, raw: bytes) -> None:
        await self.redis.lrem(self._taken, 1, raw)

    async def inbox_media_put(self, message_id: str, data: bytes) -> None:
        """Before the entry that names it is pushed: an entry never points at a file not yet kept."""
        await self.redis.set(self._inbox_media(message_id), data, ex=_INBOX_MEDIA_TTL)

    async def inbox_media_get(self, message_id: str) -> bytes | None:
        data: bytes | None = await self.redis.get(self._inbox_media(message_id))
        return data

    async def inbox_media_drop(self, message_id: str) -> None:
        await self.redis.delete(self._inbox_media(message_id))

    def _inbox_media(self, message_id: str) -> str:
        return f"{self._prefix}:inmedia:{message_id}"

    async def inbox_depth(self) -> int:
        return int(await self.redis.llen(self._inbox)) + int(await self.redis.llen(self._taken))

    # --- outbox: replies the desk queued (apps/wechat/adapters/wechaty.py) ------------------
    async def outbox_prepare(self) -> None:
        try:
            await self.redis.xgroup_create(self._outbox, _GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def outbox_read(self, *, block_ms: int) -> list[Outgoing]:
        # Entries read before but not acknowledged (a send failed, or the bridge died) come first.
        for start, block in (("0", None), (">", block_ms)):
            reply = await self.redis.xreadgroup(_GROUP, _CONSUMER, {self._outbox: start}, count=10, block=block)
            items = [(sid, fields) for _, entries in reply for sid, fields in entries if fields]
            if items:
                return [self._parse(sid, fields) for sid, fields in items]
        return []

    @staticmethod
    def _parse(stream_id: bytes, fields: dict[bytes, bytes]) -> Outgoing:
        sid = stream_id.decode()
        try:
            return Outgoing(stream_id=sid, entry=OutboxEntry.loads(fields[b"entry"]))
        except (KeyError, ValueError, TypeError):
            return Outgoing(stream_id=sid, entry=None)

    async def outbox_attempt(self, stream_id: str) -> int:
        return int(await self.redis.hincrby(f"{self._prefix}:attempts", stream_id, 1))

    async def outbox_ack(self, stream_id: str, *, media_of: int | None = None) -> None:
        """Done with an entry; ``media_of``: the message id whose queued file can go too."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self._outbox, _GROUP, stream_id)
            pipe.hdel(f"{self._prefix}:attempts", stream_id)
            if media_of is not None:
                pipe.delete(outbox_media_key(self.bridge, media_of))
            await pipe.execute()

    async def outbox_media(self, message_id: int) -> bytes | None:
        data: bytes | None = await self.redis.get(outbox_media_key(self.bridge, message_id))
        return data

    async def outbox_pending(self) -> int:
        try:
            info = await self.redis.xpending(self._outbox, _GROUP)
        except ResponseError:
            return 0
        return int(info["pending"])

    async def segments_done(self, message_id: int) -> int:
        raw = await self.redis.get(f"{self._prefix}:sent:{message_id}")
        return int(raw) if raw else 0

    async def segment_sent(self, message_id: int, count: int) -> None:
        await self.redis.set(f"{self._prefix}:sent:{message_id}", count, ex=_PROGRESS_TTL)

    # --- the account's own messages: which ones the bridge sent, which ones a person typed --
    async def own_expect(self, conversation_id: str, text: str) -> None:
        """Noted before sending: the puppet may echo the message before the send call returns."""
        await self.redis.set(f"{self._prefix}:ownfp:{_fingerprint(conversation_id, text)}", 1, ex=_FINGERPRINT_TTL)

    async def own_sent(self, message_id: str) -> None:
        await self.redis.set(f"{self._prefix}:own:{message_id}", 1, ex=_OWN_TTL)

    async def own_is(self, *, message_id: str, conversation_id: str, text: str) -> bool:
        if await self.redis.exists(f"{self._prefix}:own:{message_id}"):
            return True
        deleted = await self.redis.delete(f"{self._prefix}:ownfp:{_fingerprint(conversation_id, text)}")
        return bool(deleted)
