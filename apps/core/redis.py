"""The Redis cache database for raw commands (Lua, SET NX, locks, JSON values): one client per process.

Django's cache (project/cache.py) pickles and prefixes its values; what needs plain commands on the
same database shares this client instead of each module building its own. A redis-py client is
thread-safe, and its pool starts afresh in a forked child.
"""

from functools import cache

import redis
from django.conf import settings


@cache
def cache_redis() -> redis.Redis:
    return redis.Redis.from_url(
        f"{settings.REDIS_URL}/{settings.REDIS_CACHE_DB}", socket_timeout=2, socket_connect_timeout=2
    )
