"""Circuit breaker per endpoint, kept in Redis so every worker process sees the same state.

A process-local breaker would let each of N workers hammer a dead GPU server 3 more times, and a
restarted worker would forget a cooldown; one Redis round trip per call is cheap next to an LLM call.

closed --(N consecutive failures, or error rate > R over the window with enough calls)--> open
open --(cooldown passes)--> half-open: exactly one caller (SET NX) probes with a real request
half-open --success--> closed (window cleared) ; --failure--> open again, cooldown doubled up to the max
"""

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Literal, ParamSpec, TypeVar

from django.conf import settings
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

State = Literal["closed", "open", "half-open"]
P = ParamSpec("P")
R = TypeVar("R")
_BUCKET_S = 10


@dataclass(frozen=True)
class BreakerPolicy:
    consecutive_failures: int
    window_s: int
    min_calls: int
    error_rate: float
    cooldown_min_s: float
    cooldown_max_s: float

    @classmethod
    def from_settings(cls) -> "BreakerPolicy":
        return cls(
            consecutive_failures=settings.LLM_BREAKER_FAILURES,
            window_s=settings.LLM_BREAKER_WINDOW_S,
            min_calls=settings.LLM_BREAKER_MIN_CALLS,
            error_rate=settings.LLM_BREAKER_ERROR_RATE,
            cooldown_min_s=settings.LLM_COOLDOWN_MIN_S,
            cooldown_max_s=settings.LLM_COOLDOWN_MAX_S,
        )


def _key(endpoint_id: int, name: str) -> str:
    return f"{settings.LLM_REDIS_PREFIX}:ep:{endpoint_id}:{name}"


def _buckets(endpoint_id: int, kind: str, now: float, window_s: int) -> list[str]:
    current = int(now // _BUCKET_S)
    return [_key(endpoint_id, f"{kind}:{b}") for b in range(current - window_s // _BUCKET_S + 1, current + 1)]


def _state(open_until: bytes | str | None, now: float) -> State:
    if open_until is None:
        return "closed"
    return "open" if now < float(open_until) else "half-open"


_last_warning = 0.0


def _warn_throttled(exc: RedisError) -> None:
    # At hundreds of calls in flight one outage would otherwise log hundreds of identical lines.
    global _last_warning
    if time.monotonic() - _last_warning > 10:
        _last_warning = time.monotonic()
        logger.warning("LLM breaker: Redis unavailable (%s); failing open", exc)


def _fail_open(fallback: R) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Redis trouble must not stop answers: the breaker then lets calls through and forgets the outcome."""

    def decorate(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(method)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await method(*args, **kwargs)
            except RedisError as exc:
                _warn_throttled(exc)
                return fallback

        return wrapper

    return decorate


class Breaker:
    def __init__(self, redis: AsyncRedis, policy: BreakerPolicy | None = None) -> None:
        self.redis = redis
        self._policy = policy

    @property
    def policy(self) -> BreakerPolicy:
        # Read each time so that changed settings (and tests' overrides) apply to a long-lived runner.
        return self._policy or BreakerPolicy.from_settings()

    @_fail_open(True)
    async def allow(self, endpoint_id: int, *, probe_ttl_s: float) -> bool:
        """May a call go to this endpoint now? In half-open, only the one caller that wins the probe."""
        now = time.time()
        state = _state(await self.redis.get(_key(endpoint_id, "open_until")), now)
        if state == "closed":
            return True
        if state == "open":
            return False
        won = await self.redis.set(_key(endpoint_id, "probe"), "1", nx=True, px=max(1, int(probe_ttl_s * 1000)))
        return bool(won)

    @_fail_open(None)
    async def record_success(self, endpoint_id: int) -> None:
        now = time.time()
        bucket = _buckets(endpoint_id, "ok", now, _BUCKET_S)[-1]
        # One round trip in the common (closed) case; recovery costs a second one.
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(_key(endpoint_id, "open_until"))
            pipe.delete(_key(endpoint_id, "streak"), _key(endpoint_id, "probe"))
            pipe.incr(bucket)
            pipe.expire(bucket, self.policy.window_s + _BUCKET_S)
            was_open, *_ = await pipe.execute()
        if was_open is not None:
            # Recovered: forget the bad minute, or its error rate would trip the breaker again at once.
            await self.redis.delete(
                _key(endpoint_id, "open_until"),
                _key(endpoint_id, "opens"),
                *_buckets(endpoint_id, "err", now, self.policy.window_s),
                *_buckets(endpoint_id, "ok", now, self.policy.window_s),
            )

    @_fail_open("closed")
    async def record_failure(self, endpoint_id: int) -> State:
        policy = self.policy
        now = time.time()
        bucket = _buckets(endpoint_id, "err", now, _BUCKET_S)[-1]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(bucket)
            pipe.expire(bucket, policy.window_s + _BUCKET_S)
            pipe.incr(_key(endpoint_id, "streak"))
            pipe.expire(_key(endpoint_id, "streak"), policy.window_s)
            pipe.get(_key(endpoint_id, "open_until"))
            pipe.mget(_buckets(endpoint_id, "err", now, policy.window_s))
            pipe.mget(_buckets(endpoint_id, "ok", now, policy.window_s))
            _, _, streak, _, open_until, errs, oks = await pipe.execute()
        state = _state(open_until, now)
        if state == "open":
            return state
        errors = sum(int(v) for v in errs if v)
        calls = errors + sum(int(v) for v in oks if v)
        tripped = (
            state == "half-open"
            or streak >= policy.consecutive_failures
            or (calls >= policy.min_calls and errors / calls > policy.error_rate)
        )
        if not tripped:
            return "closed"
        await self._open(endpoint_id, now)
        return "open"

    @_fail_open(None)
    async def trip(self, endpoint_id: int) -> None:
        """Open the breaker now (a failed health check)."""
        await self._open(endpoint_id, time.time())

    async def _open(self, endpoint_id: int, now: float) -> None:
        opens = await self.redis.incr(_key(endpoint_id, "opens"))
        await self.redis.expire(_key(endpoint_id, "opens"), 3600)
        cooldown = min(self.policy.cooldown_min_s * 2 ** (opens - 1), self.policy.cooldown_max_s)
        async with self.redis.pipeline(transaction=False) as pipe:
            # Kept well past the cooldown so that an expired cooldown still reads as half-open, not closed.
            pipe.set(_key(endpoint_id, "open_until"), repr(now + cooldown), ex=3600)
            pipe.delete(_key(endpoint_id, "probe"), _key(endpoint_id, "streak"))
            await pipe.execute()


def breaker_state(redis: Redis, endpoint_id: int) -> State:
    """Synchronous read for the admin and selectors."""
    return _state(redis.get(_key(endpoint_id, "open_until")), time.time())
