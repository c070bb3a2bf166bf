"""The Wechaty channel: replies go into the bridge's outbox stream in Redis.

The bridge process (workers/wechaty_bridge) consumes the stream and sends through the
puppet service. Queueing is idempotent on the desk's message id, so a delivery task that
runs twice (retry after a rollback, sweeper) queues the reply once. A file's bytes wait in a
key of their own beside the stream (kept small: the bridge reads it ten entries at a time).
"""

from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.conversations.channels import (
    ChannelAdapter,
    Outbound,
    OutboundMedia,
    TransientDeliveryError,
    outbound_text,
)
from apps.wechat.channels import WECHATY
from apps.wechat.planner import split_text
from workers.wechaty_bridge.protocol import (
    OutboxEntry,
    OutboxMedia,
    heartbeat_key,
    outbox_key,
    outbox_media_key,
    queued_key,
)

# Marking the reply queued, storing its file and appending it must be one step: a crash between
# them would lose the reply (marked, never appended) or send it twice (appended, not marked).
_QUEUE_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  if KEYS[3] then
    redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[1])
  end
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'entry', ARGV[3])
  return 1
end
return 0
"""


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.WECHATY_REDIS_URL, socket_connect_timeout=2, socket_timeout=5)


class WechatyAdapter(ChannelAdapter):
    channel = WECHATY
    label = _("WeChat (Wechaty)")
    # A personal account's voice notes are SILK with a duration the puppet must be told; the
    # desk has neither, so audio goes out as a file (media/send.py falls back to "file").
    media_kinds = frozenset({"image", "video", "file"})

    def __init__(self) -> None:
        self.max_text_bytes = settings.WECHATY_TEXT_MAX_BYTES
        self._queue_once = _client().register_script(_QUEUE_ONCE)

    def send(self, outbound: Outbound) -> None:
        bridge = settings.WECHATY_BRIDGE_NAME
        keys = [queued_key(bridge, outbound.message_id), outbox_key(bridge)]
        if isinstance(outbound, OutboundMedia):
            entry = OutboxEntry(
                message_id=outbound.message_id,
                to=outbound.customer_external_id,
                segments=[],
                media=OutboxMedia(kind=outbound.kind, filename=outbound.filename, content_type=outbound.content_type),
            )
            keys.append(outbox_media_key(bridge, outbound.message_id))
            extra: list[Any] = [outbound.data]
        else:
            entry = OutboxEntry(
                message_id=outbound.message_id,
                to=outbound.customer_external_id,
                segments=split_text(outbound_text(outbound).text, max_bytes=self.max_text_bytes),
            )
            extra = []
        try:
            # A reply queued while no bridge runs would reach the customer hours later, if
            # ever; failing here keeps it visible to the staff (retries, then the sweeper).
            if not _client().exists(heartbeat_key(bridge)):
                raise TransientDeliveryError(f"the Wechaty bridge {bridge!r} is not running")
            self._queue_once(
                keys=keys,
                args=[settings.WECHATY_QUEUED_TTL_SECONDS, settings.WECHATY_OUTBOX_MAXLEN, entry.dumps(), *extra],
            )
        except redis.RedisError as exc:
            raise TransientDeliveryError(f"cannot queue for the Wechaty bridge: {exc}") from exc
