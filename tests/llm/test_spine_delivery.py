"""The LLM answerer inside the real spine: receive -> process -> reply -> deliver, Celery eager."""

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from apps.conversations.models import Conversation, Message
from apps.llm.models import Endpoint
from peers.openai_server import OpenAIServer
from tests.factories import receive

Start = Callable[..., OpenAIServer]
MakeEndpoint = Callable[..., Endpoint]
SECRET = "SECRET-REASONING"


def delivered() -> list[Message]:
    return list(
        Message.objects.filter(direction=Message.Direction.OUTBOUND, status=Message.Status.DELIVERED).order_by("pk")
    )


pytestmark = pytest.mark.usefixtures("eager_tasks")


@pytest.mark.parametrize(
    "mode", ["reasoning_content", "reasoning", "think_tags", "bare_think", "content", "only_reasoning", "unterminated"]
)
def test_no_reasoning_text_ever_reaches_a_delivered_message(
    mode: str, openai_server: Start, endpoint_for: MakeEndpoint
) -> None:
    endpoint_for(openai_server(mode=mode, thought=f"先想一想 {SECRET} 再回答"))

    message = receive("几点开门？").message

    sent = delivered()
    assert len(sent) == 1
    assert all(SECRET not in m.body and "think>" not in m.body and m.body.strip() for m in sent)
    if mode in ("only_reasoning", "unterminated"):
        # Nothing but thought came back: the customer gets the polite fallback and a human, never a blank.
        assert sent[0].body == settings.DESK_FALLBACK_REPLY
        assert Message.objects.get(pk=message.pk).status == Message.Status.FAILED
    else:
        assert sent[0].body == "您好，我们每天九点开门。"
        assert sent[0].author_kind == Message.AuthorKind.BOT
    if mode in ("reasoning_content", "reasoning", "think_tags", "bare_think"):
        assert SECRET in sent[0].reasoning, "reasoning is stored for audit"


def test_when_every_endpoint_fails_the_customer_gets_the_fallback_and_a_human(
    openai_server: Start, endpoint_for: MakeEndpoint, settings: Any
) -> None:
    settings.DESK_ANSWER_PATIENCE_SECONDS = 0  # an outage past the patience (test_answer_patience.py: within it)
    endpoint_for(openai_server(mode="error", status=503))
    endpoint_for(openai_server(mode="hang"), read_timeout_s=0.3)

    message = receive("几点开门？").message

    message.refresh_from_db()
    (reply,) = delivered()
    assert reply.body == settings.DESK_FALLBACK_REPLY
    assert reply.author_kind == Message.AuthorKind.SYSTEM
    assert message.status == Message.Status.FAILED
    assert "answerer unavailable" in message.error
    assert Conversation.objects.get(pk=message.conversation_id).mode == Conversation.Mode.QUEUED


def test_a_second_message_while_queued_is_kept_for_the_human(
    openai_server: Start, endpoint_for: MakeEndpoint, settings: Any
) -> None:
    settings.DESK_ANSWER_PATIENCE_SECONDS = 0  # the first message's outage outlasts the patience
    endpoint_for(openai_server(mode="error", status=500))
    receive("第一句", message_id="wx-llm-1")

    second = receive("还在吗？", message_id="wx-llm-2").message

    assert Message.objects.get(pk=second.pk).status == Message.Status.HANDED_OVER
    sent = delivered()
    # Nothing is lost; the bot says nothing more; the waiting customer hears once that it was received.
    assert [m.body for m in sent] == [settings.DESK_FALLBACK_REPLY, settings.DESK_ROUTING_ACK_TEXT]
    assert {m.author_kind for m in sent} == {Message.AuthorKind.SYSTEM}


def test_the_answer_is_delivered_after_a_failover(openai_server: Start, endpoint_for: MakeEndpoint) -> None:
    endpoint_for(openai_server(mode="error", status=503), weight=1000)
    endpoint_for(openai_server(mode="bare_think", answer="可以的。"), weight=1)

    receive("几点开门？")

    (reply,) = delivered()
    assert reply.body == "可以的。"


def test_the_reply_records_which_endpoint_and_model_answered_and_how_fast(
    openai_server: Start, endpoint_for: MakeEndpoint
) -> None:
    endpoint = endpoint_for(openai_server(mode="reasoning_content"))

    receive("几点开门？")

    (reply,) = delivered()
    meta = reply.answer_meta
    assert meta["endpoint"] == endpoint.name
    assert meta["model"] == endpoint.model
    assert meta["ttft_ms"] <= meta["total_ms"]
    assert meta["tokens_out"] > 0
    assert reply.answer_ms is not None
