"""The bridge's settings, read once from the environment (it does not load Django settings)."""

import os
from dataclasses import dataclass, field

from workers.wechaty_bridge.rules import TriggerRules


class ConfigError(Exception):
    pass


def _str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise ConfigError(f"Set the {name} environment variable.")
    return value


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        return float(raw) if raw else default
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, not {raw!r}.") from exc


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}.")


def _secret(name: str) -> str:
    path = os.environ.get(f"{name}_FILE")
    if path:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    return _str(name)


def _first_allowed_host() -> str:
    """A Host header the desk accepts when it is called directly (compose: http://web:8000)."""
    for entry in (item.strip() for item in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")):
        if entry and entry != "*":
            return f"bridge{entry}" if entry.startswith(".") else entry
    return ""


@dataclass(frozen=True)
class BridgeConfig:
    name: str
    puppet_endpoint: str
    puppet_token: str
    app_url: str
    app_token: str
    app_host: str
    app_assume_https: bool
    redis_url: str
    health_host: str
    health_port: int
    rules: TriggerRules
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    send_timeout: float = 15.0
    # Downloading a customer's file from the puppet, uploading it to the desk, sending one out.
    media_timeout: float = 60.0
    reconnect_min: float = 1.0
    reconnect_max: float = 60.0
    # A connection silent for this long is presumed dead (the puppet sends heartbeats, and
    # answers our dings with dongs), even if TCP has not noticed yet.
    stale_after: float = 90.0
    ding_every: float = 30.0
    heartbeat_every: float = 5.0
    state_dir: str = field(default="")

    @classmethod
    def from_env(cls) -> "BridgeConfig":
        redis_default = None
        if os.environ.get("REDIS_URL"):
            redis_default = f"{os.environ['REDIS_URL']}/{os.environ.get('REDIS_BROKER_DB', '1')}"
        prefixes = tuple(p for p in os.environ.get("WECHATY_GROUP_PREFIXES", "!ai").split(",") if p.strip())
        return cls(
            name=_str("WECHATY_BRIDGE_NAME", "default"),
            # python-wechaty 0.10.7 speaks plain-text gRPC only (grpclib Channel without ssl):
            # the puppet service must run with TLS off (see the README).
            puppet_endpoint=_str("WECHATY_PUPPET_SERVICE_ENDPOINT"),
            puppet_token=_secret("WECHATY_PUPPET_SERVICE_TOKEN"),
            app_url=_str("DESK_API_URL", "http://127.0.0.1:8000").rstrip("/"),
            app_token=_secret("DESK_INBOUND_API_TOKEN"),
            app_host=os.environ.get("DESK_API_HOST", "") or _first_allowed_host(),
            app_assume_https=_bool("DESK_API_ASSUME_HTTPS", False),
            redis_url=_str("WECHATY_REDIS_URL", redis_default or "redis://127.0.0.1:6379/1"),
            health_host=_str("WECHATY_BRIDGE_HEALTH_HOST", "127.0.0.1"),
            health_port=int(_float("WECHATY_BRIDGE_HEALTH_PORT", 8081)),
            rules=TriggerRules(
                private_chats=_bool("WECHATY_PRIVATE_CHATS", True),
                group_chats=_bool("WECHATY_GROUP_CHATS", True),
                group_on_mention=_bool("WECHATY_GROUP_ON_MENTION", True),
                group_prefixes=tuple(p.strip() for p in prefixes),
                staff_takeover=_bool("WECHATY_STAFF_TAKEOVER", True),
            ),
            connect_timeout=_float("WECHATY_APP_CONNECT_TIMEOUT", 3.0),
            read_timeout=_float("WECHATY_APP_READ_TIMEOUT", 10.0),
            send_timeout=_float("WECHATY_SEND_TIMEOUT", 15.0),
            media_timeout=_float("WECHATY_MEDIA_TIMEOUT_SECONDS", 60.0),
            reconnect_min=_float("WECHATY_RECONNECT_MIN_SECONDS", 1.0),
            reconnect_max=_float("WECHATY_RECONNECT_MAX_SECONDS", 60.0),
            stale_after=_float("WECHATY_STALE_AFTER_SECONDS", 90.0),
            ding_every=_float("WECHATY_DING_EVERY_SECONDS", 30.0),
            heartbeat_every=_float("WECHATY_HEARTBEAT_EVERY_SECONDS", 5.0),
            state_dir=_str("WECHATY_BRIDGE_STATE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "desk-wechaty")),
        )
