"""Writes and actions of the LLM layer: answer through the pool (GPU endpoints or the embedded model), probe health."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache

from django.conf import settings
from django.db import connection

from apps.conversations.pipeline import Turn
from apps.core import metrics
from apps.llm import client, selectors
from apps.llm.pool import EndpointPool
from apps.llm.prompt import PromptConfig, messages_build
from apps.llm.runner import Runner, get_runner
from apps.llm.selection import Candidate, selection_parse, selection_request
from apps.llm.types import ChatRequest, Completion, EndpointConfig, NoEndpointAvailable

logger = logging.getLogger(__name__)


@cache
def _pool_for(runner: Runner) -> EndpointPool:
    return EndpointPool(http=runner.http, breaker=runner.breaker)


def completion_create(
    *, question: str, context: Sequence[Turn], knowledge: Sequence[str] = (), config: PromptConfig | None = None
) -> Completion:
    """Answer one customer question. Raises NoEndpointAvailable when no backend gives a non-empty answer.
    ``config``: the prompt settings when the caller has read them already (else read here)."""
    config = config or selectors.prompt_config_get()
    endpoints = selectors.endpoints_enabled()
    if not endpoints and (embedded := selectors.embedded_endpoint()) is not None:
        # Qwen's ChatML template takes the persona, instructions and knowledge as a system message
        # (R1 wants them in the user turn), and its answers are capped short: two CPU cores.
        config = replace(
            config,
            instructions_in_user_turn=False,
            max_tokens=min(config.max_tokens, settings.LLM_EMBEDDED_MAX_TOKENS),
        )
        endpoints = [embedded]
    if not endpoints:
        raise NoEndpointAvailable("no endpoint is configured and the embedded model is off", retryable=False)
    request = _request(config=config, context=context, question=question, knowledge=knowledge)
    _release_db_connection()
    return completion_from_pool(endpoints=endpoints, request=request)


def answer_mode() -> str:
    """How the endpoints that answer now are used: "select" (pick the entry) or "compose" (write)."""
    if selectors.endpoints_enabled():
        return settings.LLM_ANSWER_MODE
    return settings.LLM_EMBEDDED_ANSWER_MODE


def entry_choose(*, question: str, candidates: Sequence[Candidate]) -> tuple[int | None, Completion]:
    """Ask the answering endpoints which candidate answers the question (apps/llm/selection.py).
    Returns the chosen entry id (None: none of them) and the call's completion for its timings."""
    endpoints = selectors.endpoints_enabled()
    if not endpoints and (embedded := selectors.embedded_endpoint()) is not None:
        endpoints = [embedded]
    if not endpoints:
        raise NoEndpointAvailable("no endpoint is configured and the embedded model is off", retryable=False)
    request = selection_request(question=question, candidates=candidates)
    _release_db_connection()
    completion = completion_from_pool(endpoints=endpoints, request=request)
    return selection_parse(completion.text, offered=[c.entry_id for c in candidates]), completion


def _request(*, config: PromptConfig, context: Sequence[Turn], question: str, knowledge: Sequence[str]) -> ChatRequest:
    return ChatRequest(
        messages=messages_build(config=config, context=context, question=question, knowledge=knowledge),
        max_tokens=config.max_tokens,
        temperature=config.temperature,
        top_p=config.top_p,
    )


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
    """Probe what answers now: the enabled endpoints, or the embedded model's server while it is in use."""
    selectors.endpoints_cache_clear()
    return [endpoint_probe(endpoint=e) for e in selectors.endpoints_answering()]
