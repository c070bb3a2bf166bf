"""The metrics listener exposes the desk's own series once traffic has gone through the real spine;
Celery workers serve theirs on their own port; websocket connections are counted by the ASGI middleware.
Every scrape sends DESK_METRICS_TOKEN, as Prometheus does."""

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from apps.conversations import services as conversation_services
from apps.conversations.models import Message
from apps.core.metrics import WebsocketMetricsMiddleware
from apps.core.metrics_listener import metrics_listen
from apps.llm import selectors as llm_selectors
from apps.llm import services as llm_services
from apps.llm.models import Endpoint
from apps.moderation import services as moderation_services
from apps.moderation.models import Term
from apps.moderation.selectors import RULES_VERSION_KEY
from peers.openai_server import Behaviour, OpenAIServer
from tests.support.processes import LiveProcess, free_port
from tests.support.waiting import wait_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {django_settings.DESK_METRICS_TOKEN}"}


@pytest.fixture
def scrape() -> Iterator[Callable[[], Samples]]:
    """Scrape this process's registry through its metrics listener, with the token."""
    listener = metrics_listen(port=0, token=django_settings.DESK_METRICS_TOKEN, host="127.0.0.1")

    def _scrape() -> Samples:
        response = httpx.get(f"http://127.0.0.1:{listener.port}/metrics", headers=bearer(), timeout=5)
        assert response.status_code == 200
        return parse(response.text)

    yield _scrape
    listener.stop()


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def llm_server(settings: Any) -> Iterator[OpenAIServer]:
    settings.LLM_REDIS_PREFIX = f"metrics-test-{uuid.uuid4().hex[:8]}"
    settings.LLM_ENDPOINTS_CACHE_S = 0
    settings.ANSWER_CACHE_ENABLED = False
    settings.DESK_ANSWERER = "apps.llm.answerer.LLMAnswerer"
    llm_selectors.endpoints_cache_clear()
    server = OpenAIServer(Behaviour(mode="reasoning_content")).start()
    yield server
    server.stop()
    llm_selectors.endpoints_cache_clear()
    cache.delete(RULES_VERSION_KEY)


@pytest.mark.usefixtures("eager_tasks")
def test_metrics_expose_the_named_series_after_traffic(
    llm_server: OpenAIServer, settings: Any, scrape: Callable[[], Samples]
) -> None:
    endpoint = Endpoint.objects.create(
        name=f"gpu-{llm_server.port}", base_url=llm_server.url, model=llm_server.behaviour.model, total_timeout_s=5.0
    )
    moderation_services.term_save(term=Term(text="骗子", category="fraud", action="flag"))
    settings.DESK_CHANNEL_ADAPTERS = {k: v for k, v in settings.DESK_CHANNEL_ADAPTERS.items() if k != "wechaty"}
    before = scrape()

    # Given three customer messages: a clean one, one that trips a "flag" term, one whose channel cannot deliver
    for i, (channel, text) in enumerate(
        [("simulator", "几点开门？"), ("simulator", "你们是骗子吗"), ("wechaty", "在吗")]
    ):
        conversation_services.message_receive(
            channel=channel, external_user_id=f"m{i}", display_name="", channel_message_id=f"metrics-{i}", body=text
        )
    llm_services.endpoints_probe_all()
    assert Message.objects.filter(status=Message.Status.ANSWERED).count() == 3
    assert Client().get("/healthz").status_code == 200  # a request through django-prometheus's middleware

    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Then each stage of the spine was timed
    for stage in ("moderation_in", "answer", "moderation_out", "reply"):
        assert delta("desk_pipeline_stage_seconds_count", stage=stage) == 3, stage
    assert delta("desk_pipeline_stage_seconds_count", stage="deliver") == 2
    assert delta("desk_inbound_outcomes_total", outcome="answered") == 3
    # And the LLM calls were measured per endpoint
    name = endpoint.name
    assert delta("desk_llm_completions_total", endpoint=name) == 3
    assert delta("desk_llm_ttft_seconds_count", endpoint=name) == 3
    assert delta("desk_llm_completion_seconds_count", endpoint=name) == 3
    assert delta("desk_llm_tokens_total", endpoint=name, kind="out") > 0
    assert value(after, "desk_llm_endpoint_up", endpoint=name) == 1
    # And the moderation hit, the failed delivery, the Celery tasks and the queues show
    assert delta("desk_moderation_hits_total", direction="in", category="fraud", verdict="allow") == 1
    assert delta("desk_deliveries_failed_total", channel="wechaty", reason="permanent") == 1
    task = "apps.conversations.tasks.process_inbound"
    assert delta("desk_celery_tasks_total", task=task, state="success") == 3
    assert delta("desk_celery_task_seconds_count", task=task) == 3
    assert ("desk_queue_depth", frozenset({("queue", settings.LLM_QUEUE)})) in after
    # And django-prometheus's own series are there beside ours
    assert any(key[0] == "django_http_requests_total_by_method_total" for key in after)
    # The database series come from the project's backend (project/db/postgresql), under their names
    db = {"alias": "default", "vendor": "postgresql"}
    assert delta("django_db_execute_total", **db) >= 20
    assert delta("django_db_query_duration_seconds_count", **db) >= 20


def test_an_endpoint_failing_its_probe_reads_as_down(db: None, settings: Any, scrape: Callable[[], Samples]) -> None:
    settings.LLM_REDIS_PREFIX = f"metrics-test-{uuid.uuid4().hex[:8]}"
    settings.LLM_ENDPOINTS_CACHE_S = 0
    llm_selectors.endpoints_cache_clear()
    down = Endpoint.objects.create(
        name="gpu-down", base_url=f"http://127.0.0.1:{free_port()}", model="m", connect_timeout_s=0.5, total_timeout_s=1
    )
    llm_services.endpoints_probe_all()
    llm_selectors.endpoints_cache_clear()
    assert value(scrape(), "desk_llm_endpoint_up", endpoint=down.name) == 0


class _Echo(AsyncWebsocketConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data)


# The consumer closes stale database connections between events (channels' aclose_old_connections).
@pytest.mark.django_db
@pytest.mark.asyncio
async def test_open_websockets_are_counted_until_they_close() -> None:
    app = WebsocketMetricsMiddleware(_Echo.as_asgi())
    gauge = ("desk_websocket_connections", frozenset({("path", "/ws/metrics-test/")}))  # ids dropped

    def current() -> float:
        from prometheus_client import REGISTRY, generate_latest

        return parse(generate_latest(REGISTRY).decode()).get(gauge, 0.0)

    first = WebsocketCommunicator(app, "/ws/metrics-test/1/")
    second = WebsocketCommunicator(app, "/ws/metrics-test/2/")
    assert (await first.connect())[0]
    assert (await second.connect())[0]
    assert current() == 2
    await first.send_to(text_data="ping")
    assert await first.receive_from() == "ping"
    await first.disconnect()
    assert current() == 1
    await second.disconnect()
    assert current() == 0


@pytest.mark.live
def test_a_celery_worker_serves_its_own_metrics(celery_worker_process: Callable[..., LiveProcess]) -> None:
    port = free_port()
    celery_worker_process(
        DESK_WORKER_METRICS_PORT=str(port),
        DESK_MODERATOR="apps.conversations.placeholders.AllowAllModerator",
        DESK_GC_FREEZE="true",  # as in production (the test settings turn it off for pytest's own process)
    )
    received = conversation_services.message_receive(
        channel="simulator", external_user_id="w1", display_name="", channel_message_id="metrics-worker", body="你好"
    )
    wait_for(lambda: Message.objects.filter(reply_to=received.message, status="delivered").exists(), timeout=30)

    def worker_samples() -> Samples:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=bearer(), timeout=5)
        assert response.status_code == 200
        return parse(response.text)

    # The reply is delivered inline by process_inbound, so that one task is the whole exchange.
    task = "apps.conversations.tasks.process_inbound"
    wait_for(
        lambda: value(worker_samples(), "desk_celery_tasks_total", task=task, state="success") >= 1,
        timeout=10,
    )
    samples = worker_samples()
    assert value(samples, "desk_celery_tasks_total", task=task, state="success") == 1
    assert value(samples, "desk_pipeline_stage_seconds_count", stage="deliver") == 1
    assert value(samples, "desk_pipeline_stage_seconds_count", stage="reply") == 1
    # Ready, the worker froze what start-up built (apps/core/gc_policy.py) and times its full collections.
    assert value(samples, "desk_gc_frozen_objects") > 10_000
    assert value(samples, "desk_gc_full_collection_seconds_count") >= 1
    assert value(samples, "desk_inbound_outcomes_total", outcome="answered") == 1
    # And without the token the worker's port serves nothing
    assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 401
