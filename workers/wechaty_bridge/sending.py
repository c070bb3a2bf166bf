"""Outbound: replies the desk queued in the outbox stream are sent while logged in, and
acknowledged only once every part went out; a part already sent is never resent.

A reply's parts are its text segments, then its file (the desk's OutboundMedia), whose bytes
wait in Redis beside the stream (protocol.outbox_media_key) and go out as a FileBox.
"""

import asyncio
import logging
from typing import Any

from redis.exceptions import RedisError

from workers.wechaty_bridge.config import BridgeConfig
from workers.wechaty_bridge.health import Metrics
from workers.wechaty_bridge.media import file_box_of
from workers.wechaty_bridge.protocol import Address, OutboxEntry
from workers.wechaty_bridge.store import Outgoing, Store

log = logging.getLogger("wechaty_bridge")

# WeChat puts U+2005 between an @mention and the text.
_MENTION_SEPARATOR = "\u2005"
_MAX_SEND_ATTEMPTS = 5


class Sending:
    """The Bridge's outbound half (a mixin: the Bridge owns the attributes below)."""

    config: BridgeConfig
    metrics: Metrics
    store: Store
    bot: Any
    logged_in: asyncio.Event

    async def _send_loop(self) -> None:
        while True:
            await self.logged_in.wait()
            bot = self.bot
            try:
                items = await self.store.outbox_read(block_ms=1000)
                for item in items:
                    if not self.logged_in.is_set() or bot is not self.bot:
                        break
                    if not await self._deliver(bot, item):
                        await asyncio.sleep(1)
                        break
            except RedisError as exc:
                log.warning("redis unavailable (%r); sending paused", exc)
                await asyncio.sleep(1)

    async def _deliver(self, bot: Any, item: Outgoing) -> bool:
        """Send one queued reply; False when it should be tried again later."""
        if item.entry is None:
            log.error("dropping unreadable outbox entry %s", item.stream_id)
            self.metrics.count("send_dropped:unreadable")
            await self.store.outbox_ack(item.stream_id)
            return True
        entry = item.entry
        media_of = entry.message_id if entry.media is not None else None
        if await self.store.outbox_attempt(item.stream_id) > _MAX_SEND_ATTEMPTS:
            log.error("giving up on reply %s after %d attempts", entry.message_id, _MAX_SEND_ATTEMPTS)
            self.metrics.count("send_dropped:attempts")
            await self.store.outbox_ack(item.stream_id, media_of=media_of)
            return True
        address = Address.parse(entry.to)
        for index in range(await self.store.segments_done(entry.message_id), entry.parts):
            try:
                if index < len(entry.segments):
                    await asyncio.wait_for(
                        self._say(bot, address, entry.segments[index], first=index == 0), self.config.send_timeout
                    )
                elif not await self._send_file(bot, address, entry):
                    self.metrics.count("send_dropped:media_missing")
                    await self.store.outbox_ack(item.stream_id)
                    return True
            except Exception as exc:
                self.metrics.count("send_errors")
                log.warning("reply %s part %d not sent: %r", entry.message_id, index, exc)
                return False
            await self.store.segment_sent(entry.message_id, index + 1)
            self.metrics.count("sent")
        await self.store.outbox_ack(item.stream_id, media_of=media_of)
        return True

    async def _say(self, bot: Any, address: Address, text: str, *, first: bool) -> None:
        # The puppet's send call, not Contact.say(): say() reloads the sent message afterwards,
        # and a failure there would make a sent segment look unsent (and send it twice).
        if address.room_id is None:
            await self.store.own_expect(address.contact_id, text)
            sent_id = await bot.puppet.message_send_text(address.contact_id, text)
        else:
            mention_ids = None
            if first:
                member = bot.Contact.load(address.contact_id)
                await member.ready()
                text = f"@{member.name}{_MENTION_SEPARATOR}{text}"
                mention_ids = [address.contact_id]
            sent_id = await bot.puppet.message_send_text(address.room_id, text, mention_ids)
        if sent_id:
            await self.store.own_sent(sent_id)

    async def _send_file(self, bot: Any, address: Address, entry: OutboxEntry) -> bool:
        """Send the reply's file; False when its bytes are gone (expired before a bridge ran)."""
        assert entry.media is not None
        data = await self.store.outbox_media(entry.message_id)
        if data is None:
            log.error("reply %s: the queued %s is gone; dropping it", entry.message_id, entry.media.kind)
            return False
        box = file_box_of(data, filename=entry.media.filename, content_type=entry.media.content_type)
        # A file cannot @mention: in a group it goes to the room as it is.
        conversation_id = address.room_id or address.contact_id
        timeout = max(self.config.send_timeout, self.config.media_timeout)
        sent_id = await asyncio.wait_for(bot.puppet.message_send_file(conversation_id, box), timeout)
        if sent_id:
            await self.store.own_sent(sent_id)
        return True
