"""Logging: one line per event on stdout; JSON in production via DESK_LOG_JSON."""

from project.settings.env import env_bool, env_str

LOG_LEVEL = env_str("DESK_LOG_LEVEL", "INFO")
# One JSON object per line with request/task/message ids (apps.core.logs), for a log shipper.
LOG_JSON = env_bool("DESK_LOG_JSON", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "apps.core.logs.JsonFormatter"},
    },
    # Customers type phone, ID and card numbers into chats; no handler may see them unmasked.
    "filters": {"pii": {"()": "apps.core.logging.PiiMaskingFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_JSON else "plain",
            "filters": ["pii"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # uvicorn configures its own handlers before it imports the app; through ours its lines
        # are masked and, with DESK_LOG_JSON, JSON like the rest. No level: --log-level keeps it.
        "uvicorn": {"handlers": ["console"], "propagate": False},
        "uvicorn.access": {"handlers": ["console"], "propagate": False},
    },
}
