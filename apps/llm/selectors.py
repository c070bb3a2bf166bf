"""Reads of the LLM layer: the endpoint pool, the embedded model's endpoint, the prompt settings, breaker states."""

import threading
import time
from functools import cache

from django.conf import settings
from redis import Redis

from apps.llm.breaker import State, breaker_state
from apps.llm.models import Endpoint, PromptSettings
from apps.llm.prompt import PromptConfig
from apps.llm.types import EndpointConfig

_cache_lock = threading.Lock()
_cached: tuple[float, list[EndpointConfig]] | None = None
_prompt: tuple[float, PromptConfig] | None = None


def endpoints_enabled() -> list[EndpointConfig]:
    """Enabled endpoints, read at most every LLM_ENDPOINTS_CACHE_S per process (one query, not one per answer)."""
    global _cached
    ttl = settings.LLM_ENDPOINTS_CACHE_S
    with _cache_lock:
        if _cached is not None and ttl > 0 and time.monotonic() - _cached[0] < ttl:
            return _cached[1]
    rows = Endpoint.objects.filter(enabled=True).order_by("pk")
    configs = [
        EndpointConfig(
            id=e.pk,
            name=e.name,
            base_url=e.base_url,
            model=e.model,
            api_key=e.api_key,
            weight=e.weight,
            connect_timeout_s=e.connect_timeout_s,
            read_timeout_s=e.read_timeout_s,
            total_timeout_s=e.total_timeout_s,
            max_concurrency=e.max_concurrency,
            thinks=e.thinks,
        )
        for e in rows
    ]
    with _cache_lock:
        _cached = (time.monotonic(), configs)
    return configs


# The embedded model's breaker keys and metrics use this id; Endpoint rows start at 1.
EMBEDDED_ENDPOINT_ID = 0
EMBEDDED_ENDPOINT_NAME = "embedded"


def embedded_endpoint() -> EndpointConfig | None:
    """The local llama.cpp server (apps/llm/embedded_server.py) as a pool endpoint, or None when it is off.

    Used only while no Endpoint row is enabled: it is a fallback so the desk answers anywhere, never
    a failover target for a GPU pool (it would take minutes to do what a GPU does in seconds).
    """
    if not settings.LLM_EMBEDDED_ENABLED or not settings.LLM_EMBEDDED_URL:
        return None
    return EndpointConfig(
        id=EMBEDDED_ENDPOINT_ID,
        name=EMBEDDED_ENDPOINT_NAME,
        base_url=settings.LLM_EMBEDDED_URL.rstrip("/").removesuffix("/v1"),
        model=settings.LLM_EMBEDDED_MODEL,
        api_key="",
        weight=1,
        connect_timeout_s=settings.LLM_EMBEDDED_CONNECT_TIMEOUT_S,
        read_timeout_s=settings.LLM_EMBEDDED_READ_TIMEOUT_S,
        total_timeout_s=settings.LLM_EMBEDDED_TOTAL_TIMEOUT_S,
        max_concurrency=max(1, settings.LLM_EMBEDDED_PARALLEL),
        thinks=False,
        keep_alive=False,
    )


def endpoints_answering() -> list[EndpointConfig]:
    """The endpoints an answer goes to: the enabled rows, else the embedded model, else none."""
    rows = endpoints_enabled()
    if rows:
        return rows
    embedded = embedded_endpoint()
    return [embedded] if embedded is not None else []


def endpoints_cache_clear() -> None:
    """Forget the endpoints and the prompt settings read (after an edit, in the editing process)."""
    global _cached, _prompt
    with _cache_lock:
        _cached = None
        _prompt = None


def prompt_config_get() -> PromptConfig:
    """The prompt settings, read at most every LLM_ENDPOINTS_CACHE_S per process: every first-turn
    answer asks (the answer cache's key), and a query per answer was ~1.5 % of an llm worker."""
    global _prompt
    ttl = settings.LLM_ENDPOINTS_CACHE_S
    with _cache_lock:
        if _prompt is not None and ttl > 0 and time.monotonic() - _prompt[0] < ttl:
            return _prompt[1]
    config = _prompt_config_read()
    with _cache_lock:
        _prompt = (time.monotonic(), config)
    return config


def _prompt_config_read() -> PromptConfig:
    row = PromptSettings.objects.order_by("pk").first() or PromptSettings()
    return PromptConfig(
        instructions=row.instructions,
        instructions_in_user_turn=row.instructions_in_user_turn,
        temperature=row.temperature,
        top_p=row.top_p,
        max_tokens=row.max_tokens,
        context_turns=row.context_turns,
        context_max_tokens=row.context_max_tokens,
    )


@cache
def _redis() -> Redis:
    return Redis.from_url(settings.LLM_REDIS_URL, socket_connect_timeout=2, socket_timeout=2)


def endpoint_state(*, endpoint_id: int) -> State:
    return breaker_state(_redis(), endpoint_id)
