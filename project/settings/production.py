"""Production: no dev defaults. A missing secret stops start-up with a clear message."""

from django.core.exceptions import ImproperlyConfigured

from project.settings.base import *  # noqa: F403
from project.settings.env import env_bool, env_int
from project.settings.vault import key_ring, secret_str

# With VAULT_ADDR set these come from Vault's KV (project/settings/vault.py), else the environment.
SECRET_KEY = secret_str("DJANGO_SECRET_KEY")
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 32 characters in production.")
DESK_INBOUND_API_TOKEN = secret_str("DESK_INBOUND_API_TOKEN")
DESK_ENCRYPTION_KEYS = key_ring()
if "ZGV2LW9ubHktbm90LXNlY3JldC0zMi1ieXRlcy1rZXk=" in DESK_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("DESK_ENCRYPTION_KEYS holds the public development key; generate real keys.")
# Every metrics listener requires it (Prometheus sends it); a guessable one would open the
# desk's internals to anything that reaches a pod.
DESK_METRICS_TOKEN = secret_str("DESK_METRICS_TOKEN")
if len(DESK_METRICS_TOKEN) < 32:
    raise ImproperlyConfigured(
        "DESK_METRICS_TOKEN must be at least 32 characters in production; one way: "
        'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
    )
DEBUG = False
SIMULATOR_ENABLED = env_bool("SIMULATOR_ENABLED", False)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
