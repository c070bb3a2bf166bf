"""The LLM layer: breaker thresholds, concurrency, the embedded CPU model's endpoint."""

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
# TLS to https endpoints (apps/llm/client.py, docs/security.md "TLS"): certificates are always verified,
# against the public CAs plus DESK_LLM_CA_BUNDLE (a PEM file: the private CA of a vLLM server); a server
# that asks for a client certificate gets DESK_LLM_CLIENT_CERT (PEM; the key in DESK_LLM_CLIENT_KEY or in
# the same file). Plain http endpoints (the embedded model on its private network) ignore them.
DESK_LLM_CA_BUNDLE = env_str("DESK_LLM_CA_BUNDLE", "")
DESK_LLM_CLIENT_CERT = env_str("DESK_LLM_CLIENT_CERT", "")
DESK_LLM_CLIENT_KEY = env_str("DESK_LLM_CLIENT_KEY", "")

# Celery's threads pool enforces no task time limit, so this bounds how long one answer may wait
# on the model. The processing lease no longer has to outlast it: a live worker keeps renewing
# its claim (apps/conversations/services/lease.py), so the sweeper does not take a call in flight.
LLM_ANSWER_BUDGET_S = env_float("LLM_ANSWER_BUDGET_S", 240.0)

# The embedded model: llama.cpp serving Qwen2.5-Coder-1.5B-Instruct on CPU (apps/llm/embedded_server.py,
# its own process), reached as one more endpoint of the pool and used only while no Endpoint row is
# enabled. LLM_EMBEDDED_URL is its base URL without /v1: empty (the default outside local settings and
# docker-compose) or LLM_EMBEDDED_ENABLED=false turns it off, and then a desk with no endpoint hands
# every question its knowledge base cannot answer to people.
LLM_EMBEDDED_ENABLED = env_bool("LLM_EMBEDDED_ENABLED", True)
LLM_EMBEDDED_URL = env_str("LLM_EMBEDDED_URL", "")
LLM_EMBEDDED_MODEL = env_str("LLM_EMBEDDED_MODEL", "qwen2.5-coder-1.5b-instruct")  # the name it serves under
# Customer-service answers are short; at ~10-20 tokens/s on two cores every token is a customer's wait.
LLM_EMBEDDED_MAX_TOKENS = env_int("LLM_EMBEDDED_MAX_TOKENS", 256)
# Questions that attack the prompt (apps/llm/injection.py) get LLM_INJECTION_REPLY without reaching a
# model. Off only to measure what the other defences do alone (bench/answers.py).
LLM_INJECTION_CHECK = env_bool("LLM_INJECTION_CHECK", True)
# The persona's reply to a question that tries to rewrite the assistant (apps/llm/guard.py).
LLM_INJECTION_REPLY = env_str(
    "LLM_INJECTION_REPLY",
    "您好，我是本店的客服助手，只能帮您解答商品、订单、物流和售后方面的问题。请问有什么可以帮您？",
)
# How a model answers when the knowledge base has snippets for the question: "compose" (it writes the
# answer from them, under the draft check: R1 on a GPU) or "select" (it names the entry that answers
# and the desk sends that entry's curated answer: apps/llm/selection.py). The embedded 1.5B selects:
# composing, it gave the required facts for 41 % of in-scope questions (bench/answers.py).
LLM_ANSWER_MODE = env_str("LLM_ANSWER_MODE", "compose")
LLM_EMBEDDED_ANSWER_MODE = env_str("LLM_EMBEDDED_ANSWER_MODE", "select")
# A question with no knowledge snippet (nothing near it in the knowledge base; greetings and thanks
# aside) is declined with this reply instead of going to a model: whatever it said would be invented.
# False lets the model answer such questions (still under the draft check).
LLM_OUT_OF_SCOPE_DECLINE = env_bool("LLM_OUT_OF_SCOPE_DECLINE", True)
LLM_OUT_OF_SCOPE_REPLY = env_str(
    "LLM_OUT_OF_SCOPE_REPLY",
    "抱歉，这个问题我暂时回答不了。我可以帮您解答订单、物流、退换货、发票等问题；如需人工客服，请回复「转人工」。",
)
# Requests in flight to it per worker process: its slots (LLM_EMBEDDED_PARALLEL, read by the server
# too). Further calls wait their turn in the pool, within the answer budget, not in the server.
LLM_EMBEDDED_PARALLEL = env_int("LLM_EMBEDDED_PARALLEL", 1)
LLM_EMBEDDED_CONNECT_TIMEOUT_S = env_float("LLM_EMBEDDED_CONNECT_TIMEOUT_S", 2.0)
# The first token waits for the prompt (~40-90 tokens/s on two cores: a long context is seconds).
LLM_EMBEDDED_READ_TIMEOUT_S = env_float("LLM_EMBEDDED_READ_TIMEOUT_S", 60.0)
LLM_EMBEDDED_TOTAL_TIMEOUT_S = env_float("LLM_EMBEDDED_TOTAL_TIMEOUT_S", 120.0)

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
