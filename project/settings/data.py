"""Postgres, Redis cache and the Channels layer."""

import environ

from project.settings.env import env_int, env_str

DATABASE_URL = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/desk")
DATABASES = {"default": environ.Env.db_url_config(DATABASE_URL)}
# A pool per process, not persistent per-thread connections: under ASGI every sync request
# runs in a fresh thread, so CONN_MAX_AGE would open (and strand) a connection per request
# until Postgres refuses clients (measured by bench/spine.py: 3 new connections per message).
# Keep DATABASE_POOL_MAX_SIZE x processes under Postgres's max_connections.
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["OPTIONS"] = {
    "pool": {
        "min_size": env_int("DATABASE_POOL_MIN_SIZE", 2),
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", 20),
        "timeout": env_int("DATABASE_POOL_TIMEOUT_SECONDS", 10),
    }
}
# django_prometheus's metrics, cheaper per statement (project/db/postgresql/base.py).
DATABASES["default"]["ENGINE"] = "project.db.postgresql"

# One Redis server, separate logical databases per use so a FLUSHDB in one never hits another.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379")
REDIS_CACHE_DB = env_int("REDIS_CACHE_DB", 0)
REDIS_BROKER_DB = env_int("REDIS_BROKER_DB", 1)
REDIS_CHANNELS_DB = env_int("REDIS_CHANNELS_DB", 2)

CACHES = {
    "default": {
        "BACKEND": "project.cache.SharedRedisCache",
        "LOCATION": f"{REDIS_URL}/{REDIS_CACHE_DB}",
        "TIMEOUT": 300,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

CHANNELS_REDIS_MAX_CONNECTIONS = env_int("CHANNELS_REDIS_MAX_CONNECTIONS", 2000)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py's async pool refuses (it does not wait) past max_connections, 100 by default:
            # 600 browsers reconnecting at once each need one for group_add (bench/load.py found it).
            "hosts": [
                {"address": f"{REDIS_URL}/{REDIS_CHANNELS_DB}", "max_connections": CHANNELS_REDIS_MAX_CONNECTIONS}
            ],
            "capacity": 1500,
            "expiry": 30,
        },
    }
}
