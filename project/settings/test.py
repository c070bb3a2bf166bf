"""pytest: real Postgres and Redis, on Redis databases and queues of their own."""

import os

# Test runs must not share Redis databases or queues with a desk running on the same box, and
# pytest-xdist workers (gw0, gw1) not with each other: each gets three databases of its own (10-12,
# 13-15) and its own queues; pytest-django gives each its own Postgres database (test_desk_gw0…).
# Processes a test starts inherit these through the environment.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_SLOT = int(_WORKER[2:]) if _WORKER.startswith("gw") else 0
if _SLOT > 1:
    raise RuntimeError("Redis has database slots for two test workers: run pytest with -n 2 at most")
os.environ.setdefault("REDIS_CACHE_DB", str(10 + 3 * _SLOT))
os.environ.setdefault("REDIS_BROKER_DB", str(11 + 3 * _SLOT))
os.environ.setdefault("REDIS_CHANNELS_DB", str(12 + 3 * _SLOT))
os.environ.setdefault("CELERY_QUEUE_PREFIX", f"desk-test{_WORKER and '-' + _WORKER}")
os.environ.setdefault("DESK_LOG_LEVEL", "WARNING")

from project.settings.base import *  # noqa: E402,F403  (after the environment above: settings read it)
from project.settings.env import env_bool  # noqa: E402

SECRET_KEY = "test-only-not-secret"  # noqa: S105
DESK_INBOUND_API_TOKEN = "test-inbound-token"  # noqa: S105
DESK_METRICS_TOKEN = "test-metrics-token"  # noqa: S105
DESK_METRICS_HOST = "127.0.0.1"
# No freezing in pytest's own process (a web lifespan test would otherwise freeze the whole test session);
# a live worker a test starts turns it on through its environment.
DESK_GC_FREEZE = env_bool("DESK_GC_FREEZE", False)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files straight from the app folders: tests do not run collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Spine tests measure the spine: they answer with the instant placeholder unless a test opts
# into a real step (the LLM tests do, against their local OpenAI-compatible server).
DESK_ANSWERER = os.environ.get("DESK_ANSWERER", "apps.conversations.placeholders.EchoAnswerer")
# Voice notes go to a person unless a test opts into the packaged speech model (tests/speech).
DESK_SPEECH_READER = os.environ.get("DESK_SPEECH_READER", "apps.speech.reader.NoSpeechReader")
# Asking for a person: the phrase list alone (no sentence model, no examples to seed after a flush) unless a test
# opts into the default detector (tests/knowledge/test_human_request.py, tests/console/test_handoff.py).
DESK_HUMAN_REQUEST_DETECTOR = os.environ.get(
    "DESK_HUMAN_REQUEST_DETECTOR", "apps.conversations.pipeline.PhraseDetector"
)
DESK_ENCRYPTION_KEYS = "test:dGVzdC1vbmx5LW5vdC1zZWNyZXQtMzItYnl0ZXMta2U="
