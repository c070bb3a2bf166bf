"""Fixtures shared by the whole suite: real Postgres and Redis, eager or live Celery, live ASGI."""

import os
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
import redis
from django.conf import settings

from apps.core import clock as desk_clock
from project.celery import app as celery_app
from tests.support.processes import LiveProcess, free_port, start_asgi_server, start_celery_worker


@pytest.fixture(scope="session", autouse=True)
def _clean_test_redis() -> None:
    """Start every run with empty test Redis databases (broker queues, cache, channel layer)."""
    for db in (settings.REDIS_CACHE_DB, settings.REDIS_BROKER_DB, settings.REDIS_CHANNELS_DB):
        redis.Redis.from_url(f"{settings.REDIS_URL}/{db}").flushdb()


@pytest.fixture
def clock() -> Iterator[ModuleType]:
    """apps.core.clock, moved by ``clock.advance(seconds)``; back to real time after the test."""
    desk_clock.reset()
    yield desk_clock
    desk_clock.reset()


@pytest.fixture(autouse=True)
def _fresh_redis_keys() -> None:
    # Buckets live in Redis across tests; a test customer must not inherit another test's burst.
    client = redis.Redis.from_url(f"{settings.REDIS_URL}/{settings.REDIS_CACHE_DB}")
    keys = list(client.scan_iter("ratelimit:*", count=1000))
    if keys:
        client.delete(*keys)
    # Nor a profile batch another test scheduled (the debounce would swallow this test's).
    from apps.conversations.services.profile import BATCH_KEY

    client.delete(BATCH_KEY)


@pytest.fixture(autouse=True)
def _fresh_pipeline_steps() -> Iterator[None]:
    # Steps and adapters are cached per process; a test that swaps one must not leak it.
    from apps.connectors.selectors import connector_cache_clear
    from apps.conversations.channels import get_adapter
    from apps.conversations.pipeline import (
        get_answerer,
        get_image_reader,
        get_knowledge,
        get_moderator,
        get_speech_reader,
    )
    from apps.llm.selectors import endpoints_cache_clear

    connector_cache_clear()  # a row of an earlier test's (rolled back) database
    endpoints_cache_clear()  # the endpoints and prompt settings: rows of a rolled-back test too
    yield
    connector_cache_clear()
    endpoints_cache_clear()
    get_speech_reader.cache_clear()
    get_answerer.cache_clear()
    get_moderator.cache_clear()
    get_image_reader.cache_clear()
    get_knowledge.cache_clear()
    get_adapter.cache_clear()


@pytest.fixture
def eager_tasks(transactional_db: None) -> Iterator[None]:
    """Run Celery tasks inline as they are enqueued. Needs real commits, since tasks are enqueued
    on commit: the spine then runs synchronously, in the order production runs it."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = False
        celery_app.conf.task_eager_propagates = False


@pytest.fixture
def use_answerer(settings: pytest.FixtureRequest) -> Callable[[str], None]:
    from apps.conversations.pipeline import get_answerer

    def _use(path: str) -> None:
        settings.DESK_ANSWERER = path  # type: ignore[attr-defined]
        get_answerer.cache_clear()

    return _use


@pytest.fixture
def live_env(transactional_db: None) -> dict[str, str]:
    """Environment for child processes (worker, web) that must see this test's database."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "project.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "REDIS_CACHE_DB": str(settings.REDIS_CACHE_DB),
            "REDIS_BROKER_DB": str(settings.REDIS_BROKER_DB),
            "REDIS_CHANNELS_DB": str(settings.REDIS_CHANNELS_DB),
            "CELERY_QUEUE_PREFIX": settings.CELERY_TASK_DEFAULT_QUEUE.removesuffix(".default"),
            "PYTHONPATH": str(settings.BASE_DIR),
        }
    )
    # The broker may still hold tasks enqueued by earlier tests whose rows were truncated.
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    return env


@pytest.fixture
def celery_worker_process(live_env: dict[str, str]) -> Iterator[Callable[..., LiveProcess]]:
    started: list[LiveProcess] = []

    def _start(**extra_env: str) -> LiveProcess:
        queues = f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.LLM_QUEUE}"
        proc = start_celery_worker({**live_env, **extra_env}, queue=queues)
        started.append(proc)
        return proc

    yield _start
    for proc in started:
        proc.stop()


@pytest.fixture
def asgi_server(live_env: dict[str, str]) -> Iterator[str]:
    proc = start_asgi_server(live_env, port=free_port())
    yield proc.url
    proc.stop()
