"""Celery: Redis broker, JSON only, late acks so a killed worker does not eat a task."""

from datetime import timedelta

from project.settings.data import REDIS_BROKER_DB, REDIS_URL
from project.settings.env import env_bool, env_float, env_str

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", f"{REDIS_URL}/{REDIS_BROKER_DB}")
# kombu's Redis transport with one client per channel instead of one per publish and ack
# (project/broker.py); any other broker URL (rediss, sentinel) keeps the transport its scheme names.
CELERY_BROKER_TRANSPORT = "project.broker:Transport" if CELERY_BROKER_URL.startswith("redis://") else None
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_timeout": 5}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE_PREFIX", "desk") + ".default"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-messages": {
        "task": "apps.conversations.tasks.sweep_stuck_messages",
        "schedule": timedelta(seconds=env_float("DESK_SWEEP_INTERVAL_SECONDS", 15.0)),
        "options": {"expires": 14},
    },
    # Media past DESK_MEDIA_RETENTION_DAYS: files deleted, rows kept, one audit row per run.
    "purge-media": {
        "task": "apps.conversations.tasks.purge_media",
        "schedule": timedelta(hours=env_float("DESK_MEDIA_PURGE_INTERVAL_HOURS", 6.0)),
        "options": {"expires": 3600},
    },
}
