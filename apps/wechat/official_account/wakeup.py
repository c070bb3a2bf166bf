"""Waking a held Official Account callback when a passive reply for its customer is parked.

The worker that parks a reply publishes "<account_id>:<openid>" on one Redis pub/sub channel after
commit. Each web process keeps one subscription (a thread) and sets the asyncio events of the
callbacks waiting for that customer. A wake-up only means "look again": Postgres says what is
ready. The waiter also re-reads it at the end of its wait, and every WECHAT_OA_PASSIVE_POLL_SECONDS
while the subscription is down, so a lost message or a Redis outage costs latency, never a reply;
with the subscription up, a held callback costs no query until something happens.
"""

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from functools import cache

import redis
from django.conf import settings

from apps.core.per_process import PerProcess

logger = logging.getLogger(__name__)


def _url() -> str:
    return f"{settings.REDIS_URL}/{settings.REDIS_CACHE_DB}"


def _channel() -> str:
    # Pub/sub channels are global to the Redis server, not per DB: the queue prefix keeps desks
    # (and test runs) that share one server apart.
    return f"{settings.CELERY_TASK_DEFAULT_QUEUE}:wechat:oa:passive-ready"


@cache
def _publisher() -> redis.Redis:
    return redis.Redis.from_url(_url(), socket_timeout=2, socket_connect_timeout=2)


def ready_publish(*, account_id: int, openid: str) -> None:
    try:
        _publisher().publish(_channel(), f"{account_id}:{openid}")
    except redis.RedisError as exc:
        logger.warning("passive-reply wake-up not published (%r); the callback finds it on its last look", exc)


class _Listener:
    """One subscription per process, on a thread of its own: it outlives any event loop, so a
    callback on any loop (uvicorn's, or a test client's short-lived one) can wait on it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self.subscribed = False
        threading.Thread(target=self._run, name="oa-passive-wakeup", daemon=True).start()

    def add(self, key: str, waiter: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            self._waiters.setdefault(key, set()).add(waiter)

    def discard(self, key: str, waiter: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            waiting = self._waiters.get(key)
            if waiting is not None:
                waiting.discard(waiter)
                if not waiting:
                    del self._waiters[key]

    def _wake(self, key: str) -> None:
        with self._lock:
            waiting = list(self._waiters.get(key, ()))
        for loop, event in waiting:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits there now
                loop.call_soon_threadsafe(event.set)

    def _run(self) -> None:
        backoff = 0.5
        while True:
            client = redis.Redis.from_url(_url(), socket_connect_timeout=2, socket_keepalive=True)
            try:
                pubsub = client.pubsub()
                pubsub.subscribe(_channel())
                # Count on wake-ups only once Redis has confirmed the subscription.
                confirmation = pubsub.get_message(timeout=2)
                if not confirmation or confirmation.get("type") != "subscribe":
                    raise redis.ConnectionError("no confirmation of the subscription")
                self.subscribed, backoff = True, 0.5
                for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    data = message.get("data")
                    self._wake(data.decode() if isinstance(data, bytes) else str(data))
            except Exception as exc:  # Redis away: waiters poll meanwhile; reconnect with backoff
                self.subscribed = False
                logger.warning("passive-reply wake-ups unavailable (%r); retrying in %.1f s", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.subscribed = False
                client.close()


_listener = PerProcess(_Listener)


def wakeups_working() -> bool:
    """Whether wake-ups arrive; if not, held callbacks poll Postgres."""
    return _listener.get().subscribed


@contextlib.asynccontextmanager
async def ready_watch(*, account_id: int, openid: str) -> AsyncIterator[asyncio.Event]:
    """An event set whenever a reply for this customer is parked, while the block runs.

    Enter it before reading Postgres, so a reply parked between the read and the wait still wakes.
    """
    listener = _listener.get()
    key, waiter = f"{account_id}:{openid}", (asyncio.get_running_loop(), asyncio.Event())
    listener.add(key, waiter)
    try:
        yield waiter[1]
    finally:
        listener.discard(key, waiter)


async def woken(event: asyncio.Event, timeout: float) -> None:
    """Wait for a wake-up or the timeout, whichever comes first, and re-arm the event."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=max(timeout, 0.0))
    event.clear()
