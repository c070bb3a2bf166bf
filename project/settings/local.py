"""Developer machine and the README's one-command desk: embedded defaults, debug on."""

from project.settings.base import *  # noqa: F403
from project.settings.env import env_bool, env_str

DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "local-dev-only-not-secret")
DESK_INBOUND_API_TOKEN = env_str("DESK_INBOUND_API_TOKEN", "local-dev-inbound-token")
