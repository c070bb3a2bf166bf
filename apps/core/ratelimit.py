"""Token buckets in Redis, shared by every process: one atomic Lua call per check."""

import time
from dataclasses import dataclass

import redis
from django.conf import settings

# KEYS[1] bucket; ARGV: capacity, refill per second, now (s), cost. Returns {allowed, tokens left * 1000}.
_BUCKET = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, math.floor(tokens * 1000)}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: float


class TokenBucket:
    def __init__(self, *, name: str, capacity: float, per_second: float) -> None:
        self.name, self.capacity, self.per_second = name, capacity, per_second
        self._client = redis.Redis.from_url(
            f"{settings.REDIS_URL}/{settings.REDIS_CACHE_DB}", socket_timeout=1, socket_connect_timeout=1
        )
        self._script = self._client.register_script(_BUCKET)

    def take(self, key: str, *, cost: float = 1.0) -> Decision:
        allowed, remaining = self._script(
            keys=[f"ratelimit:{self.name}:{key}"], args=[self.capacity, self.per_second, time.time(), cost]
        )
        return Decision(allowed=bool(allowed), remaining=int(remaining) / 1000)

    def first_in_window(self, key: str, *, seconds: int) -> bool:
        """True the first time ``key`` is seen in a window: one notice per flood, not per message."""
        return bool(self._client.set(f"ratelimit:{self.name}:notice:{key}", 1, nx=True, ex=max(seconds, 1)))
