"""Console presence lives in Redis (apps/routing/services/availability.py), outside the test database:
a later test reusing an agent's id after a flush would inherit the tab count."""

import redis
from django.conf import settings


def presence_forget() -> None:
    client = redis.Redis.from_url(f"{settings.REDIS_URL}/{settings.REDIS_CACHE_DB}")
    keys = list(client.scan_iter("routing:presence:*", count=1000))
    if keys:
        client.delete(*keys)
