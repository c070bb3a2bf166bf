"""The Wechaty channel: replies go into the bridge's outbox stream in Redis.

The bridge process (workers/wechaty_bridge) consumes the stream and sends through the
puppet service. Queueing is idempotent on the desk's message id, so a delivery task that
runs twice (retry after a rollback, sweeper) queues the reply once.
"""

from functools import cache

import redis
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.conversations.channels import ChannelAdapter, Outbound, TransientDeliveryError, outbound_text
from apps.wechat.channels import WECHATY
from apps.wechat.planner import split_text
from workers.wechaty_bridge.protocol import OutboxEntry, heartbeat_key, outbox_key, queued_key

# Marking the reply queued and appending it must be one step: a crash between the two would
# either lose the reply (marked, never appended) or send it twice (appended, not marked).
_QUEUE_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'entry', ARGV[3])
  return 1
end
return 0
"""


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.WECHATY_REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


class WechatyAdapter(ChannelAdapter):
    channel = WECHATY
    label = _("WeChat (Wechaty)")

    def __init__(self) -> None:
        self.max_text_bytes = settings.WECHATY_TEXT_MAX_BYTES
        self._queue_once = _client().register_script(_QUEUE_ONCE)

    def send(self, outbound: Outbound) -> None:
        bridge = settings.WECHATY_BRIDGE_NAME
        entry = OutboxEntry(
            message_id=outbound.message_id,
            to=outbound.customer_external_id,
            segments=split_text(outbound_text(outbound).text, max_bytes=self.max_text_bytes),
        )
        try:
            # A reply queued while no bridge runs would reach the customer hours later, if
            # ever; failing here keeps it visible to the staff (retries, then the sweeper).
            if not _client().exists(heartbeat_key(bridge)):
                raise TransientDeliveryError(f"the Wechaty bridge {bridge!r} is not running")
            self._queue_once(
                keys=[queued_key(bridge, outbound.message_id), outbox_key(bridge)],
                args=[settings.WECHATY_QUEUED_TTL_SECONDS, settings.WECHATY_OUTBOX_MAXLEN, entry.dumps()],
            )
        except redis.RedisError as exc:
            raise TransientDeliveryError(f"cannot queue for the Wechaty bridge: {exc}") from exc
