"""Reads of the LLM layer: the endpoint pool, the prompt settings, breaker states."""

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
        )
        for e in rows
    ]
    with _cache_lock:
        _cached = (time.monotonic(), configs)
    return configs


def endpoints_cache_clear() -> None:
    global _cached
    with _cache_lock:
        _cached = None


def prompt_config_get() -> PromptConfig:
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
