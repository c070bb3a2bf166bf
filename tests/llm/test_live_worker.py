"""A real Celery worker (threads pool) answers through the LLM pool; no reasoning reaches a customer."""

from collections.abc import Callable

import pytest
from django.conf import settings

from apps.conversations import services as conversation_services
from apps.conversations.models import Message
from apps.llm.models import Endpoint
from peers.openai_server import OpenAIServer
from tests.support.processes import LiveProcess
from tests.support.waiting import wait_for

Status = Message.Status
MESSAGES = 12


@pytest.mark.live
def test_a_live_worker_answers_every_message_and_never_sends_reasoning(
    celery_worker_process: Callable[..., LiveProcess],
    openai_server: Callable[..., OpenAIServer],
    endpoint_for: Callable[..., Endpoint],
) -> None:
    think = openai_server(mode="bare_think", latency_s=0.3, thought="SECRET-REASONING 模板里已经打开了 think")
    field = openai_server(mode="reasoning_content", latency_s=0.3, thought="SECRET-REASONING 在字段里")
    endpoint_for(think, read_timeout_s=10, total_timeout_s=20)
    endpoint_for(field, read_timeout_s=10, total_timeout_s=20)
    celery_worker_process(
        DESK_ANSWERER="apps.llm.answerer.LLMAnswerer",
        LLM_REDIS_PREFIX=settings.LLM_REDIS_PREFIX,
        LLM_ENDPOINTS_CACHE_S="0",
        ANSWER_CACHE_ENABLED="false",  # every message must reach a server (12 customers ask the same)
    )

    for i in range(MESSAGES):
        conversation_services.message_receive(
            channel="simulator",
            external_user_id=f"live-{i}",
            display_name="",
            channel_message_id=f"wx-live-{i}",
            body="几点开门？",
        )

    outbound = Message.objects.filter(direction=Message.Direction.OUTBOUND)
    wait_for(lambda: outbound.filter(status=Status.DELIVERED).count() == MESSAGES, timeout=60, what="every reply")
    assert think.stats.requests + field.stats.requests == MESSAGES
    for reply in outbound:
        assert reply.author_kind == Message.AuthorKind.BOT
        assert reply.body == "您好，我们每天九点开门。"
        assert "SECRET-REASONING" in reply.reasoning
    assert Message.objects.filter(direction=Message.Direction.INBOUND, status=Status.ANSWERED).count() == MESSAGES
