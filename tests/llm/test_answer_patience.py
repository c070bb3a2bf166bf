"""An LLM outage shorter than DESK_ANSWER_PATIENCE_SECONDS delays the answer; a longer one, or a
refused request, gets the fallback and a human. Real path: LLMAnswerer, the pool and breaker, a
local OpenAI-compatible server and, where the retry's countdown matters, a real Celery worker."""

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings

from apps.conversations.models import Conversation, Message
from apps.conversations.pipeline import AnswerUnavailable
from apps.llm import selectors, services
from apps.llm.answerer import LLMAnswerer
from apps.llm.models import Endpoint
from apps.llm.types import ChatRequest, NoEndpointAvailable
from peers.openai_server import OpenAIServer
from tests.factories import receive
from tests.support.processes import LiveProcess
from tests.support.waiting import wait_for

Start = Callable[..., OpenAIServer]
MakeEndpoint = Callable[..., Endpoint]
StartWorker = Callable[..., LiveProcess]
Status = Message.Status
FALLBACK = "您好，人工客服稍后回复您，请稍候。"


def outbound() -> list[Message]:
    return list(Message.objects.filter(direction=Message.Direction.OUTBOUND))


def reply_delivered() -> bool:
    return Message.objects.filter(direction=Message.Direction.OUTBOUND, status=Status.DELIVERED).exists()


def call_pool() -> None:
    request = ChatRequest(messages=[{"role": "user", "content": "你好"}], max_tokens=64, temperature=0.6, top_p=0.95)
    services.completion_from_pool(endpoints=selectors.endpoints_enabled(), request=request)


def worker_env(*, patience_s: int) -> dict[str, str]:
    """The worker is another process: it gets this test's LLM settings through its environment."""
    return {
        "DESK_ANSWERER": "apps.llm.answerer.LLMAnswerer",
        "DESK_ANSWER_PATIENCE_SECONDS": str(patience_s),
        "LLM_REDIS_PREFIX": django_settings.LLM_REDIS_PREFIX,
        "LLM_ENDPOINTS_CACHE_S": "0",
        "LLM_COOLDOWN_MIN_S": str(django_settings.LLM_COOLDOWN_MIN_S),
        "LLM_COOLDOWN_MAX_S": str(django_settings.LLM_COOLDOWN_MAX_S),
        "ANSWER_CACHE_ENABLED": "false",
    }


class TestWhatIsWorthWaitingFor:
    def test_every_endpoint_failing_is_an_outage_worth_waiting_out(
        self, openai_server: Start, endpoint_for: MakeEndpoint
    ) -> None:
        endpoint_for(openai_server(mode="error", status=500))
        endpoint_for(openai_server(mode="error", status=503))

        with pytest.raises(NoEndpointAvailable, match="HTTP 50") as raised:
            call_pool()
        assert raised.value.retryable

    def test_every_endpoint_cooling_down_is_worth_waiting_out(
        self, openai_server: Start, endpoint_for: MakeEndpoint
    ) -> None:
        server = openai_server(mode="error", status=500)
        endpoint_for(server)
        while server.stats.requests < 3:  # three failures in a row open the breaker
            with pytest.raises(NoEndpointAvailable):
                call_pool()

        with pytest.raises(NoEndpointAvailable, match="cooling down") as raised:
            call_pool()
        assert raised.value.retryable

    def test_a_refused_request_is_not(self, openai_server: Start, endpoint_for: MakeEndpoint) -> None:
        endpoint_for(openai_server(mode="error", status=400))

        with pytest.raises(NoEndpointAvailable, match="request refused") as raised:
            call_pool()
        assert not raised.value.retryable

    def test_endpoints_that_answer_only_emptily_are_not(self, openai_server: Start, endpoint_for: MakeEndpoint) -> None:
        endpoint_for(openai_server(mode="only_reasoning"))

        with pytest.raises(NoEndpointAvailable, match="empty answer") as raised:
            call_pool()
        assert not raised.value.retryable

    @pytest.mark.django_db
    def test_nothing_configured_to_answer_is_not(self, settings: Any) -> None:
        settings.LLM_EMBEDDED_ENABLED = False

        with pytest.raises(NoEndpointAvailable, match="no endpoint is configured") as raised:
            services.completion_create(question="你好", context=[])
        assert not raised.value.retryable

    @pytest.mark.parametrize(("status", "retryable"), [(503, True), (400, False)])
    def test_the_answerer_passes_it_on_to_the_spine(
        self, openai_server: Start, endpoint_for: MakeEndpoint, status: int, retryable: bool
    ) -> None:
        endpoint_for(openai_server(mode="error", status=status))

        with pytest.raises(AnswerUnavailable) as raised:
            LLMAnswerer().answer(conversation_id=1, question="几点开门？", context=[])
        assert raised.value.retryable is retryable


@pytest.mark.usefixtures("eager_tasks")
def test_a_refused_request_gets_the_fallback_at_once_without_a_retry(
    openai_server: Start, endpoint_for: MakeEndpoint, settings: Any
) -> None:
    settings.DESK_ANSWER_PATIENCE_SECONDS = 45
    server = openai_server(mode="error", status=400)  # e.g. the context is too long for the model
    endpoint_for(server)

    message = receive("几点开门？").message

    message = Message.objects.select_related("conversation").get(pk=message.pk)
    (reply,) = outbound()
    assert server.stats.requests == 1
    assert message.status == Status.FAILED
    assert message.attempts == 1
    assert "request refused" in message.error
    assert message.conversation.mode == Conversation.Mode.QUEUED
    assert (reply.author_kind, reply.body, reply.status) == (Message.AuthorKind.SYSTEM, FALLBACK, Status.DELIVERED)


@pytest.mark.live
def test_an_outage_shorter_than_the_patience_only_delays_the_answer(
    celery_worker_process: StartWorker, openai_server: Start, endpoint_for: MakeEndpoint
) -> None:
    server = openai_server(mode="error", status=500)
    endpoint_for(server)
    celery_worker_process(**worker_env(patience_s=30))

    message = receive("几点开门？").message

    # The first call fails, and the retry 2 s later too: the customer is still waiting for the bot.
    wait_for(lambda: server.stats.requests >= 2, timeout=20, what="a retry after the first failure")
    message.refresh_from_db()
    assert message.status in (Status.RECEIVED, Status.PROCESSING)
    assert outbound() == []
    server.behave(mode="content")  # the endpoint recovers

    wait_for(
        lambda: Message.objects.filter(direction="out", status=Status.DELIVERED).exists(), timeout=30, what="reply"
    )
    time.sleep(1)  # nothing more may follow
    message = Message.objects.select_related("conversation").get(pk=message.pk)
    (reply,) = outbound()
    assert message.status == Status.ANSWERED
    assert message.attempts >= 3
    assert server.stats.requests >= 3
    assert message.conversation.mode == Conversation.Mode.BOT
    assert (reply.author_kind, reply.body) == (Message.AuthorKind.BOT, "您好，我们每天九点开门。")
    assert reply.created_at - message.created_at >= timedelta(seconds=2 + 4)


@pytest.mark.live
def test_an_outage_longer_than_the_patience_gets_the_fallback_once(
    celery_worker_process: StartWorker, openai_server: Start, endpoint_for: MakeEndpoint
) -> None:
    server = openai_server(mode="error", status=500)
    endpoint_for(server)
    celery_worker_process(**worker_env(patience_s=3))

    message = receive("几点开门？").message

    wait_for(
        lambda: Message.objects.filter(direction="out", status=Status.DELIVERED).exists(), timeout=30, what="reply"
    )
    time.sleep(1)  # nothing more may follow
    message = Message.objects.select_related("conversation").get(pk=message.pk)
    (reply,) = outbound()
    assert message.status == Status.FAILED
    assert message.error.startswith("answerer unavailable: ")
    assert message.conversation.mode == Conversation.Mode.QUEUED
    assert (reply.author_kind, reply.body) == (Message.AuthorKind.SYSTEM, FALLBACK)
    assert server.stats.requests >= 2, "it was retried before giving up"
    assert reply.created_at - message.created_at >= timedelta(seconds=3)
