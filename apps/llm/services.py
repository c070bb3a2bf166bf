"""Writes and actions of the LLM layer: answer a question through the pool (or the embedded model), probe health."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache

from django.conf import settings
from django.db import connection

from apps.conversations.pipeline import Turn
from apps.core import metrics
from apps.llm import client, selectors
from apps.llm.engine import get_engine
from apps.llm.pool import EndpointPool
from apps.llm.prompt import messages_build
from apps.llm.runner import Runner, get_runner
from apps.llm.types import ChatRequest, Completion, EndpointConfig, EndpointError, NoEndpointAvailable

logger = logging.getLogger(__name__)


@cache
def _pool_for(runner: Runner) -> EndpointPool:
    return EndpointPool(http=runner.http, breaker=runner.breaker)


def completion_create(*, question: str, context: Sequence[Turn], knowledge: Sequence[str] = ()) -> Completion:
    """Answer one customer question. Raises NoEndpointAvailable when no backend gives a non-empty answer."""
    config = selectors.prompt_config_get()
    request = ChatRequest(
        messages=messages_build(config=config, context=context, question=question, knowledge=knowledge),
        max_tokens=config.max_tokens,
        temperature=config.temperature,
        top_p=config.top_p,
    )
    endpoints = selectors.endpoints_enabled()
    _release_db_connection()
    if endpoints:
        return completion_from_pool(endpoints=endpoints, request=request)
    if settings.LLM_EMBEDDED_ENABLED:
        # The store's persona, instructions and knowledge are written for R1; a 135M model only
        # follows its own one-line system prompt, and answers the customer's words alone best.
        bare = replace(config, instructions="")
        small = replace(request, messages=messages_build(config=bare, context=context, question=question))
        return completion_from_embedded(request=small)
    raise NoEndpointAvailable("no endpoint is configured and the embedded model is off", retryable=False)


def _release_db_connection() -> None:
    # With 256 worker threads waiting on the LLM, each idle connection would pin a Postgres backend;
    # the next query reconnects (a few ms, against seconds of generation). Never inside a transaction.
    if settings.LLM_RELEASE_DB_DURING_CALL and not connection.in_atomic_block:
        connection.close()


def completion_from_pool(*, endpoints: list[EndpointConfig], request: ChatRequest) -> Completion:
    runner = get_runner()
    # The wait is bounded even if a coroutine misbehaves: two attempts, each under its total timeout.
    limit = min(2 * max(e.total_timeout_s for e in endpoints) + 5, settings.LLM_ANSWER_BUDGET_S)
    try:
        return runner.run(_pool_for(runner).complete(endpoints=endpoints, request=request), timeout=limit)
    except TimeoutError as exc:
        raise NoEndpointAvailable(f"the pool gave no answer within {limit:.0f}s") from exc


def completion_from_embedded(*, request: ChatRequest) -> Completion:
    engine = get_engine()
    failures: list[str] = []
    for _ in range(2):
        try:
            completion = engine.generate(request)
        except EndpointError as exc:
            raise NoEndpointAvailable(str(exc), retryable=exc.counts) from exc  # busy: its turn comes
        if completion.text:
            completion.extra.update(attempts=len(failures) + 1, failures=failures)
            return completion
        failures.append("embedded: empty answer")
    # The model is up and answered, only emptily, twice: as in the pool, that is no outage to wait out.
    raise NoEndpointAvailable("; ".join(failures), retryable=False)


@dataclass(frozen=True)
class Health:
    endpoint: str
    ok: bool
    detail: str


def endpoint_probe(*, endpoint: EndpointConfig) -> Health:
    """Check /health and /v1/models; a failed check opens the breaker so calls stop going there at once."""
    runner = get_runner()
    ok, detail = runner.run(client.endpoint_health(http=runner.http, endpoint=endpoint), timeout=30)
    metrics.llm_endpoint_health(endpoint.name, ok)
    if not ok:
        runner.run(runner.breaker.trip(endpoint.id), timeout=5)
        logger.warning("LLM endpoint %s failed its health check: %s", endpoint.name, detail)
    return Health(endpoint=endpoint.name, ok=ok, detail=detail)


def endpoints_probe_all() -> list[Health]:
    selectors.endpoints_cache_clear()
    return [endpoint_probe(endpoint=e) for e in selectors.endpoints_enabled()]
