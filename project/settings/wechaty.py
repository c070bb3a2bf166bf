"""The Wechaty bridge (a personal/assistant WeChat account, workers/wechaty_bridge).

The app and the bridge meet in Redis: replies go into the bridge's outbox stream, and the
bridge proves it is alive with a heartbeat key. Both sides read the same names from the
environment (WECHATY_BRIDGE_NAME, WECHATY_REDIS_URL), so keep them equal in both processes.
"""

from project.settings.data import REDIS_BROKER_DB, REDIS_URL
from project.settings.env import env_int, env_str

WECHATY_BRIDGE_NAME = env_str("WECHATY_BRIDGE_NAME", "default")
# The outbox is a queue, so it lives where the task queues live (durable, never flushed as a cache).
WECHATY_REDIS_URL = env_str("WECHATY_REDIS_URL", f"{REDIS_URL}/{REDIS_BROKER_DB}")
# A personal account has no documented text cap; long answers still read better in pieces.
WECHATY_TEXT_MAX_BYTES = env_int("WECHATY_TEXT_MAX_BYTES", 2048)
WECHATY_OUTBOX_MAXLEN = env_int("WECHATY_OUTBOX_MAXLEN", 100_000)
# How long "this reply is already queued" is remembered; a redelivery after that would queue it again.
WECHATY_QUEUED_TTL_SECONDS = env_int("WECHATY_QUEUED_TTL_SECONDS", 7 * 24 * 3600)
