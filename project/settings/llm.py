"""The LLM layer: breaker thresholds, concurrency, the embedded CPU model."""

from datetime import timedelta

from project.settings.data import REDIS_CACHE_DB, REDIS_URL
from project.settings.env import env_bool, env_float, env_int, env_str
from project.settings.tasks import CELERY_BEAT_SCHEDULE

# Breaker state lives in Redis so every worker process shares it (see apps/llm/breaker.py).
LLM_REDIS_URL = env_str("LLM_REDIS_URL", f"{REDIS_URL}/{REDIS_CACHE_DB}")
LLM_REDIS_PREFIX = env_str("LLM_REDIS_PREFIX", "llm")
LLM_BREAKER_FAILURES = env_int("LLM_BREAKER_FAILURES", 3)
LLM_BREAKER_WINDOW_S = env_int("LLM_BREAKER_WINDOW_S", 60)
LLM_BREAKER_MIN_CALLS = env_int("LLM_BREAKER_MIN_CALLS", 10)
LLM_BREAKER_ERROR_RATE = env_float("LLM_BREAKER_ERROR_RATE", 0.5)
LLM_COOLDOWN_MIN_S = env_float("LLM_COOLDOWN_MIN_S", 5.0)
LLM_COOLDOWN_MAX_S = env_float("LLM_COOLDOWN_MAX_S", 30.0)

# Connections the per-process HTTP client keeps to all endpoints together.
LLM_MAX_CONNECTIONS = env_int("LLM_MAX_CONNECTIONS", 1024)
LLM_ENDPOINTS_CACHE_S = env_float("LLM_ENDPOINTS_CACHE_S", 5.0)
LLM_RELEASE_DB_DURING_CALL = env_bool("LLM_RELEASE_DB_DURING_CALL", True)

# Celery's threads pool enforces no task time limit, so this bounds how long one answer may wait
# on the model. The processing lease no longer has to outlast it: a live worker keeps renewing
# its claim (apps/conversations/services/lease.py), so the sweeper does not take a call in flight.
LLM_ANSWER_BUDGET_S = env_float("LLM_ANSWER_BUDGET_S", 240.0)

# Embedded model, used only when no endpoint is enabled.
LLM_EMBEDDED_ENABLED = env_bool("LLM_EMBEDDED_ENABLED", True)
LLM_EMBEDDED_MAX_TOKENS = env_int("LLM_EMBEDDED_MAX_TOKENS", 96)
LLM_EMBEDDED_THREADS = env_int("LLM_EMBEDDED_THREADS", 2)
# The embedded model answers one request at a time; a message that waits longer than this for
# its turn gets the fallback and a human instead of an ever-growing queue.
LLM_EMBEDDED_WAIT_S = env_float("LLM_EMBEDDED_WAIT_S", 60.0)
LLM_EMBEDDED_SYSTEM_PROMPT = env_str(
    "LLM_EMBEDDED_SYSTEM_PROMPT",
    "You are a friendly customer service assistant. Answer in one or two short sentences.",
)

CELERY_BEAT_SCHEDULE["llm-probe-endpoints"] = {
    "task": "apps.llm.tasks.probe_endpoints",
    "schedule": timedelta(seconds=env_float("LLM_PROBE_INTERVAL_S", 15.0)),
    "options": {"expires": 14},
}

# LLM calls wait seconds each, so process_inbound runs on a worker of its own with a large threads
# pool (Procfile `llm`: --concurrency DESK_LLM_CONCURRENCY, default 256), apart from the short
# delivery and sweeper tasks on the default queue, which a slow model must never starve.
LLM_QUEUE = env_str("CELERY_QUEUE_PREFIX", "desk") + ".llm"
CELERY_TASK_ROUTES = {"apps.conversations.tasks.process_inbound": {"queue": LLM_QUEUE}}
