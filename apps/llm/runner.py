"""One asyncio event loop per process, on a daemon thread, that carries every LLM call of that process.

Celery worker threads (and the bench) call ``run()`` and block on a future while the loop multiplexes
hundreds of streaming requests over one keep-alive aiohttp session: a waiting call costs a parked thread
and a coroutine, not a process. vLLM batches only what is in flight together, so this is what lets
one 2-core worker keep >=256 requests in flight.
"""

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp
from django.conf import settings
from redis.asyncio import BlockingConnectionPool
from redis.asyncio import Redis as AsyncRedis

from apps.core.per_process import PerProcess
from apps.llm.breaker import Breaker
from apps.llm.client import TLSFiles, http_client

T = TypeVar("T")


class Runner:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="llm-runner", daemon=True)
        self._thread.start()
        self.http: aiohttp.ClientSession = self.run(self._make_http())
        # Close the pooled connections at exit, on the loop that owns them (an unclosed session logs errors).
        atexit.register(self._close_http)
        # A blocking pool: at 256+ calls in flight, callers wait a moment for a connection instead of failing.
        pool = BlockingConnectionPool.from_url(
            settings.LLM_REDIS_URL, socket_connect_timeout=2, socket_timeout=2, max_connections=128, timeout=10
        )
        self.redis: AsyncRedis = AsyncRedis(connection_pool=pool)
        self.breaker = Breaker(self.redis)

    @staticmethod
    async def _make_http() -> aiohttp.ClientSession:
        tls = TLSFiles(
            ca_bundle=settings.DESK_LLM_CA_BUNDLE,
            client_cert=settings.DESK_LLM_CLIENT_CERT,
            client_key=settings.DESK_LLM_CLIENT_KEY,
        )
        return http_client(max_connections=settings.LLM_MAX_CONNECTIONS, tls=tls)

    def _close_http(self) -> None:
        if self.loop.is_running() and not self.http.closed:
            with contextlib.suppress(Exception):
                self.run(self.http.close(), timeout=2)

    def run(self, awaitable: Awaitable[T], timeout: float | None = None) -> T:
        """Run a coroutine on the loop from any other thread and wait for its result."""
        future = asyncio.run_coroutine_threadsafe(_wrap(awaitable), self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise


async def _wrap(awaitable: Awaitable[T]) -> T:
    return await awaitable


_runner = PerProcess(Runner)


def get_runner() -> Runner:
    """The process's runner; a forked child (prefork pool) builds its own."""
    return _runner.get()
