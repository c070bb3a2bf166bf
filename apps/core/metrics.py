"""The desk's own Prometheus metrics, next to django-prometheus's HTTP/DB/cache ones.

Every process serves its registry on a metrics port of its own, behind DESK_METRICS_TOKEN
(apps/core/metrics_listener.py): web on DESK_WEB_METRICS_PORT, Celery workers on
DESK_WORKER_METRICS_PORT (started on worker_init). Each process is one Python process with
threads (uvicorn; Celery's threads pool), so the default registry is exact without
prometheus_client's multiprocess mode. Callers use the small functions below, one line each;
no call may ever raise into the code it measures.
"""

import contextlib
import logging
import resource
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from datetime import datetime
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from apps.core.memory import MemoryCollector

logger = logging.getLogger(__name__)

# Seconds; the reply-latency alert reads the 5 s and 10 s buckets.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120)
_TOKEN_KINDS = ("in", "out")

STAGE_SECONDS = Histogram(
    "desk_pipeline_stage_seconds",
    "Time spent in one stage of the message spine.",
    ["stage"],  # moderation_in, answer, moderation_out, reply (received -> reply committed), deliver
    buckets=_LATENCY_BUCKETS,
)
INBOUND_OUTCOMES = Counter(
    "desk_inbound_outcomes_total",
    "Customer messages by how the desk finished them (failed = fallback reply, the bot gave up).",
    ["outcome"],  # answered, handed_over, failed
)
# Apart from the outcomes: a deferred message still ends answered or failed, and counting it there
# too would lower the success rate the alert reads.
INBOUND_DEFERRALS = Counter(
    "desk_inbound_deferrals_total",
    "Answers put off because the answerer was briefly unavailable (DESK_ANSWER_PATIENCE_SECONDS).",
)
LLM_TTFT_SECONDS = Histogram(
    "desk_llm_ttft_seconds", "LLM time to first token.", ["endpoint"], buckets=_LATENCY_BUCKETS
)
LLM_TOTAL_SECONDS = Histogram(
    "desk_llm_completion_seconds", "LLM time for a whole completion.", ["endpoint"], buckets=_LATENCY_BUCKETS
)
LLM_TOKENS = Counter("desk_llm_tokens_total", "Tokens in prompts (in) and completions (out).", ["endpoint", "kind"])
LLM_COMPLETIONS = Counter("desk_llm_completions_total", "Finished LLM completions.", ["endpoint"])
ANSWERS_GUARDED = Counter(
    "desk_answers_guarded_total",
    "Questions or drafts the answer guard stopped, by problem (injection, ungrounded, language, leak, declined) "
    "and what was sent instead (persona reply, knowledge answer, human).",
    ["problem", "outcome"],
)
LLM_ENDPOINT_UP = Gauge("desk_llm_endpoint_up", "1 when the endpoint passed its last health probe.", ["endpoint"])
MODERATION_HITS = Counter(
    "desk_moderation_hits_total",
    "Moderation checks that matched, by category and resulting verdict.",
    ["direction", "category", "verdict"],
)
ENCODER_RECHECKS = Counter(
    "desk_encoder_rechecks_total",
    "Texts re-encoded in fp32 because their int8 score fell near a threshold (apps/moderation/semantic.py).",
    ["stage"],
)
DELIVERIES_FAILED = Counter(
    "desk_deliveries_failed_total", "Outbound messages the channel refused for good.", ["channel", "reason"]
)
WECHAT_API_ERRORS = Counter(
    "desk_wechat_api_errors_total",
    "Error codes WeChat/WeCom answered, by what the desk does about each (retry, refresh_token, hand_over, give_up).",
    ["errcode", "outcome"],
)
WEBSOCKETS = Gauge("desk_websocket_connections", "Open websocket connections in this process.", ["path"])
CELERY_TASKS = Counter(
    "desk_celery_tasks_total", "Celery task runs, by end state (success, failure, retry).", ["task", "state"]
)
# apps/core/gc_policy.py: a full collection holds the GIL, so every thread of the process waits it out.
GC_FULL_SECONDS = Histogram(
    "desk_gc_full_collection_seconds",
    "Full (generation 2) garbage collections of this process; every thread waits while one runs.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
GC_FROZEN_OBJECTS = Gauge("desk_gc_frozen_objects", "Objects moved to the permanent generation (gc.freeze).")
CELERY_TASK_SECONDS = Histogram("desk_celery_task_seconds", "Celery task run time.", ["task"], buckets=_LATENCY_BUCKETS)
SLA_BREACHES = Counter(
    "desk_sla_breaches_total",
    "Response targets missed (routing SlaBreach rows), by clock (first, next) and team (empty: none).",
    ["kind", "team"],
)
MODE_SWITCHES = Counter(
    "desk_conversation_mode_switches_total",
    "Conversation mode changes (bot, queued, human, closed) by the mode switched to: the seed's context switches.",
    ["mode"],
)
# Set by the routing beat in whichever worker ran it last: read it with max(), not sum().
SLA_WARNING = Gauge("desk_sla_warning_conversations", "Conversations within their SLA warning time now.")


def _safe(fn: Callable[..., None]) -> Callable[..., None]:
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:
            logger.warning("metrics: %s failed", fn.__name__, exc_info=True)

    return wrapper


@_safe
def stage_observe(stage: str, seconds: float) -> None:
    STAGE_SECONDS.labels(stage).observe(max(0.0, seconds))


@contextlib.contextmanager
def stage_timer(stage: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        stage_observe(stage, time.monotonic() - started)


@_safe
def inbound_outcome(outcome: str, *, received_at: datetime | None = None) -> None:
    INBOUND_OUTCOMES.labels(outcome).inc()
    if received_at is not None and outcome == "answered":
        STAGE_SECONDS.labels("reply").observe(max(0.0, time.time() - received_at.timestamp()))


@_safe
def inbound_deferred() -> None:
    INBOUND_DEFERRALS.inc()


@_safe
def llm_completion_observe(meta: dict[str, Any]) -> None:
    """One finished completion, from Completion.meta() (ms and token counts)."""
    endpoint = str(meta.get("endpoint") or "unknown")
    LLM_COMPLETIONS.labels(endpoint).inc()
    if meta.get("ttft_ms") is not None:
        LLM_TTFT_SECONDS.labels(endpoint).observe(meta["ttft_ms"] / 1000)
    if meta.get("total_ms") is not None:
        LLM_TOTAL_SECONDS.labels(endpoint).observe(meta["total_ms"] / 1000)
    for kind in _TOKEN_KINDS:
        tokens = meta.get(f"tokens_{kind}")
        if tokens:
            LLM_TOKENS.labels(endpoint, kind).inc(tokens)


@_safe
def answer_guarded(*, problem: str, outcome: str) -> None:
    ANSWERS_GUARDED.labels(problem, outcome).inc()


@_safe
def llm_endpoint_health(endpoint: str, ok: bool) -> None:
    LLM_ENDPOINT_UP.labels(endpoint).set(1 if ok else 0)


@_safe
def moderation_hits(*, direction: str, verdict: str, evidence: dict[str, Any]) -> None:
    """Count a matched check once per category it matched (keyword hits and semantic rules)."""
    items = [*evidence.get("hits", []), *evidence.get("semantic", [])]
    for category in sorted({str(item.get("category", "other")) for item in items}):
        MODERATION_HITS.labels(direction, category, verdict).inc()


@_safe
def encoder_rechecked(*, stage: str, texts: int) -> None:
    ENCODER_RECHECKS.labels(stage).inc(texts)


@_safe
def delivery_failed(*, channel: str, reason: str) -> None:
    DELIVERIES_FAILED.labels(channel, reason).inc()


def wechat_api_error(*, errcode: int, outcome: str) -> None:
    WECHAT_API_ERRORS.labels(str(errcode), outcome).inc()


@_safe
def sla_breach(*, kind: str, team: str) -> None:
    SLA_BREACHES.labels(kind, team).inc()


@_safe
def mode_switched(mode: str) -> None:
    MODE_SWITCHES.labels(mode).inc()


@_safe
def sla_warning_set(count: int) -> None:
    SLA_WARNING.set(count)


class QueueDepthCollector(Collector):
    """Celery queue lengths read from the Redis broker at scrape time (one pipeline, 1 s timeout)."""

    # Kombu's Redis transport keeps priorities 3, 6 and 9 in sibling lists.
    _PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("desk_queue_depth", "Tasks waiting in each Celery queue.", labels=["queue"])
        try:
            for queue, depth in self.depths().items():
                family.add_metric([queue], depth)
        except Exception:
            logger.warning("metrics: queue depth unavailable", exc_info=True)
        yield family

    def depths(self) -> dict[str, int]:
        import redis
        from django.conf import settings

        queues = [settings.CELERY_TASK_DEFAULT_QUEUE, settings.LLM_QUEUE]
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1)
        try:
            pipe = client.pipeline(transaction=False)
            for queue in queues:
                for suffix in self._PRIORITY_SUFFIXES:
                    pipe.llen(queue + suffix)
            lengths = pipe.execute()
        finally:
            client.close()
        step = len(self._PRIORITY_SUFFIXES)
        return {queue: sum(lengths[i * step : (i + 1) * step]) for i, queue in enumerate(queues)}


_queue_collector = QueueDepthCollector()
with contextlib.suppress(ValueError):  # already registered (module reloaded)
    REGISTRY.register(_queue_collector)


class ContextSwitchCollector(Collector):
    """This process's context switches (all its threads), from getrusage at scrape time. The seed lists
    上下文切换次数 among its key metrics; involuntary ones rising on the llm workers means they are
    starved of CPU (run another process per core, docs/deployment.md)."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        family = CounterMetricFamily(
            "desk_process_context_switches", "Context switches of this process.", labels=["kind"]
        )
        family.add_metric(["voluntary"], usage.ru_nvcsw)
        family.add_metric(["involuntary"], usage.ru_nivcsw)
        yield family


class VaultCollector(Collector):
    """Whether this process's last Vault call (start-up or token renewal) worked; absent without Vault."""

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        from apps.core.vault import health

        up = GaugeMetricFamily("desk_vault_up", "1 while this process's Vault token renews.")
        failures = CounterMetricFamily("desk_vault_failures", "Vault calls (token renewals) that failed.")
        if health.configured:
            up.add_metric([], 1.0 if health.up else 0.0)
            failures.add_metric([], health.failures)
        yield up
        yield failures


for _collector in (ContextSwitchCollector(), VaultCollector(), MemoryCollector()):
    with contextlib.suppress(ValueError):  # already registered (module reloaded)
        REGISTRY.register(_collector)


class WebsocketMetricsMiddleware:
    """ASGI middleware: counts open websocket connections by route prefix (wraps the websocket router)."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "websocket":
            await self.app(scope, receive, send)
            return
        # The route's prefix (/ws/console/), not the full path: ids in paths would explode the label set.
        gauge = WEBSOCKETS.labels("/".join(str(scope.get("path", "")).split("/")[:3]) + "/")
        accepted = False

        async def counting_send(message: MutableMapping[str, Any]) -> None:
            nonlocal accepted
            if message.get("type") == "websocket.accept" and not accepted:
                accepted = True
                gauge.inc()
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if accepted:
                gauge.dec()


# --- Celery workers -------------------------------------------------------------------------

_task_started: dict[str, float] = {}


def celery_signals_connect() -> None:
    """Count tasks, time them, and serve the worker's registry on DESK_WORKER_METRICS_PORT."""
    from celery import signals

    signals.worker_init.connect(_worker_metrics_serve, weak=False, dispatch_uid="desk-metrics-serve")
    signals.task_prerun.connect(_task_prerun, weak=False, dispatch_uid="desk-metrics-prerun")
    signals.task_postrun.connect(_task_postrun, weak=False, dispatch_uid="desk-metrics-postrun")


def _worker_metrics_serve(**_: Any) -> None:
    from django.conf import settings

    from apps.core.metrics_listener import process_listener_start

    process_listener_start(settings.DESK_WORKER_METRICS_PORT)


@_safe
def _task_prerun(task_id: str = "", **_: Any) -> None:
    _task_started[task_id] = time.monotonic()


@_safe
def _task_postrun(task_id: str = "", task: Any = None, state: str | None = None, **_: Any) -> None:
    name = getattr(task, "name", "unknown")
    started = _task_started.pop(task_id, None)
    if started is not None:
        CELERY_TASK_SECONDS.labels(name).observe(time.monotonic() - started)
    CELERY_TASKS.labels(name, (state or "unknown").lower()).inc()


@_safe
def gc_full_collection(seconds: float) -> None:
    GC_FULL_SECONDS.observe(seconds)


@_safe
def gc_frozen(count: int) -> None:
    GC_FROZEN_OBJECTS.set(count)
