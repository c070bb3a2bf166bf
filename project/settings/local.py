"""Developer machine and the README's one-command desk: embedded defaults, debug on."""

from project.settings.base import *  # noqa: F403
from project.settings.env import env_bool, env_int, env_str

DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "local-dev-only-not-secret")
DESK_INBOUND_API_TOKEN = env_str("DESK_INBOUND_API_TOKEN", "local-dev-inbound-token")
# A fixed, public development key: local data is not secret. Production refuses it.
DESK_ENCRYPTION_KEYS = env_str("DESK_ENCRYPTION_KEYS", "dev:ZGV2LW9ubHktbm90LXNlY3JldC0zMi1ieXRlcy1rZXk=")
# A public development token, so metrics listeners stay on loopback here. Production requires a
# real token (and refuses this one: it is too short).
DESK_METRICS_TOKEN = env_str("DESK_METRICS_TOKEN", "local-dev-metrics-token")
DESK_METRICS_HOST = env_str("DESK_METRICS_HOST", "127.0.0.1")
# The embedded model server the Procfile starts (`embedded-llm`, apps/llm/embedded_server.py).
LLM_EMBEDDED_URL = env_str("LLM_EMBEDDED_URL", f"http://127.0.0.1:{env_int('LLM_EMBEDDED_PORT', 8090)}")
