"""Inbound: a WeChat message the rules let through goes into the Redis inbox, and from there to
the desk, retried until the desk took it (it is idempotent on the Wechaty message id).

A file is downloaded from the puppet when the message arrives (the puppet's copy may not last)
and kept in Redis beside the inbox entry until the desk stored it; a file that could not be had
is reported with why, so the desk still records the message and a person sees it.
"""

import asyncio
import json
import logging
from typing import Any

import httpx
from redis.exceptions import RedisError

from workers.wechaty_bridge.app_client import AppClient, PermanentAppError, TooLargeAppError, TransientAppError
from workers.wechaty_bridge.config import BridgeConfig
from workers.wechaty_bridge.health import Metrics
from workers.wechaty_bridge.media import is_media, media_fetch, media_kind, media_text
from workers.wechaty_bridge.protocol import Address
from workers.wechaty_bridge.rules import Incoming, decide
from workers.wechaty_bridge.store import Store

log = logging.getLogger("wechaty_bridge")


class Receiving:
    """The Bridge's inbound half (a mixin: the Bridge owns the attributes below)."""

    config: BridgeConfig
    wx: Any
    metrics: Metrics
    store: Store
    app: AppClient
    http: httpx.AsyncClient
    self_names: tuple[str, ...]

    async def _handle_message(self, msg: Any) -> None:
        room = msg.room()
        talker = msg.talker()
        message_type = msg.type()
        media = is_media(message_type)
        incoming = Incoming(
            text="" if media else msg.text(),
            is_text=message_type == self.wx.MessageType.MESSAGE_TYPE_TEXT,
            is_self=msg.is_self(),
            in_room=room is not None,
            mentions_self=bool(room is not None and not media and await msg.mention_self()),
            self_names=self.self_names,
            is_media=media,
        )
        decision = decide(incoming, self.config.rules)
        if decision.action == "ignore":
            self.metrics.count(f"ignored:{decision.reason}")
            return
        if decision.action == "staff":
            to = msg.to()
            if to is None or to.contact_id == talker.contact_id:
                self.metrics.count("ignored:own")
                return
            if await self.store.own_is(message_id=msg.message_id, conversation_id=to.contact_id, text=msg.text()):
                self.metrics.count("ignored:own_echo")
                return
            address, display_name = Address(contact_id=to.contact_id), to.name
        else:
            address = Address(contact_id=talker.contact_id, room_id=room.room_id if room is not None else None)
            display_name = talker.name
            if room is not None and room.payload is not None and room.payload.topic:
                display_name = f"{talker.name} @ {room.payload.topic}"
        item: dict[str, Any] = {
            "channel_message_id": msg.message_id,
            "external_user_id": address.external_id,
            "display_name": display_name or "",
            "author": decision.action,
        }
        if media:
            await self._media_item(msg, item)
        else:
            item["text"] = decision.text
        await self.store.inbox_push(item)
        self.metrics.count(f"accepted:{decision.reason}")

    async def _media_item(self, msg: Any, item: dict[str, Any]) -> None:
        kind = media_kind(msg)
        if kind is None:
            # A link or a mini program is text for the desk: the bot can answer about it.
            item["text"] = await media_text(msg)
            return
        fetched = await media_fetch(msg, kind=kind, http=self.http, timeout=self.config.media_timeout)
        if fetched.data is not None:
            await self.store.inbox_media_put(msg.message_id, fetched.data)
        else:
            self.metrics.count("media_unavailable")
        item["media"] = {
            "kind": kind,
            "filename": fetched.filename,
            "stored": fetched.data is not None,
            "error_code": fetched.error_code,
            "error": fetched.error,
        }

    # --- forward: inbox -> desk --------------------------------------------------------------
    async def _forward_loop(self) -> None:
        while True:
            try:
                raw = await self.store.inbox_take(timeout=1)
                if raw is None:
                    continue
                await self._forward(raw)
                await self.store.inbox_done(raw)
            except RedisError as exc:
                log.warning("redis unavailable (%r); forwarding paused", exc)
                await asyncio.sleep(1)

    async def _forward(self, raw: bytes) -> None:
        try:
            item = json.loads(raw)
        except ValueError:
            log.error("dropping an unreadable inbox entry")
            return
        delay = self.config.reconnect_min
        while True:
            try:
                result = await (self._post_media(item) if "media" in item else self.app.post_message(**item))
            except TransientAppError as exc:
                self.metrics.count("forward_retries")
                log.warning(
                    "desk did not take message %s (%s); retrying in %.1fs", item.get("channel_message_id"), exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.reconnect_max)
                continue
            except PermanentAppError as exc:
                self.metrics.count("forward_rejected")
                log.error("desk refused message %s: %s", item.get("channel_message_id"), exc)
                return
            self.metrics.count("forwarded" if not result.get("duplicate") else "forwarded_duplicate")
            if "media" in item:
                await self.store.inbox_media_drop(item["channel_message_id"])
            return

    async def _post_media(self, item: dict[str, Any]) -> dict[str, Any]:
        media, message_id = item["media"], item["channel_message_id"]
        data = await self.store.inbox_media_get(message_id) if media["stored"] else None
        error_code, error = media.get("error_code", ""), media.get("error", "")
        if media["stored"] and data is None:
            error_code, error = "expired", "the bridge no longer had the file when the desk could take it"
        fields = {
            "channel_message_id": message_id,
            "external_user_id": item["external_user_id"],
            "display_name": item["display_name"],
            "kind": media["kind"],
            "filename": media.get("filename", ""),
        }
        try:
            return await self.app.post_media(**fields, data=data, error_code=error_code, error=error)
        except TooLargeAppError as exc:
            # The desk's limit is below WeChat's: the message is still recorded, without the file.
            self.metrics.count("media_too_large")
            return await self.app.post_media(**fields, data=None, error_code="too_large", error=str(exc))
