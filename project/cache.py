"""Django's Redis cache with one client per process instead of one per call and per thread.

Django's ``RedisCacheClient.get_client()`` builds a new ``redis.Redis`` (about 170 response
callbacks registered) for every get, set and delete, and ``caches`` is thread-local, so each of the
llm worker's threads also held its own connection pool. In the issue 22 profiles that was 3-4 % of
an llm worker's CPU. A ``redis.Redis`` over a ``ConnectionPool`` is thread-safe (each command
borrows a connection), and the pool notices a fork by its pid and starts afresh in the child, so
one client per location and options serves every thread of a process.
"""

import re
import threading
from functools import cached_property
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _OneClient(RedisCacheClient):
    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self._clients: dict[int, Any] = {}
        self._lock = threading.Lock()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django's private helpers (not in its stubs): the pool this call would use, and redis.Redis.
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            with self._lock:
                client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))  # type: ignore[attr-defined]
        return client


_shared: dict[tuple[tuple[str, ...], str], _OneClient] = {}
_shared_lock = threading.Lock()


class SharedRedisCache(RedisCache):
    """``django.core.cache.backends.redis.RedisCache``, same settings and behaviour, shared client."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._shared_args = (
            re.split("[;,]", server) if isinstance(server, str) else list(server),
            params.get("OPTIONS", {}),
        )

    @cached_property
    def _cache(self) -> _OneClient:
        servers, options = self._shared_args
        key = (tuple(servers), repr(sorted(options.items())))
        with _shared_lock:
            client = _shared.get(key)
            if client is None:
                client = _shared[key] = _OneClient(servers, **options)
        return client
