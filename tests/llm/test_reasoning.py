"""Reasoning is split off every shape R1 produces, through the real client and a streaming server."""

from collections.abc import Callable

import pytest

from apps.llm import selectors, services
from apps.llm.models import Endpoint
from apps.llm.reasoning import reasoning_split
from apps.llm.types import ChatRequest, NoEndpointAvailable
from peers.openai_server import OpenAIServer

ANSWER = "您好，我们每天九点开门。"
THOUGHT = "顾客问营业时间。SECRET-REASONING 需要简短回答。"


def ask() -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": "几点开门？"}], max_tokens=64, temperature=0.6, top_p=0.95)


@pytest.mark.parametrize("mode", ["content", "reasoning_content", "reasoning", "think_tags", "bare_think"])
def test_it_separates_the_answer_from_reasoning_in_every_streamed_form(
    mode: str, openai_server: Callable[..., OpenAIServer], endpoint_for: Callable[..., Endpoint]
) -> None:
    endpoint_for(openai_server(mode=mode, answer=ANSWER, thought=THOUGHT))

    completion = services.completion_from_pool(endpoints=selectors.endpoints_enabled(), request=ask())

    assert completion.text == ANSWER
    assert "SECRET-REASONING" not in completion.text
    assert "think>" not in completion.text
    assert completion.reasoning == ("" if mode == "content" else THOUGHT)


def test_it_splits_on_a_bare_closing_tag_with_no_opening_tag() -> None:
    split = reasoning_split(content="用户在问价格，我要查一下。\n</think>\n\n价格是100元。")
    assert split == type(split)(reasoning="用户在问价格，我要查一下。", answer="价格是100元。")


def test_it_treats_everything_before_the_last_closing_tag_as_reasoning() -> None:
    split = reasoning_split(content="想法一</think>想法二</think>答案")
    assert split.answer == "答案"
    assert "想法二" in split.reasoning


def test_it_keeps_nothing_of_an_unterminated_thought() -> None:
    split = reasoning_split(content="<think>还在想，没有想完")
    assert split.answer == ""
    assert split.reasoning == "还在想，没有想完"


def test_it_treats_a_truncated_tagless_output_as_reasoning() -> None:
    split = reasoning_split(content="R1 的模板已打开 think，这里被 max_tokens 截断", truncated=True)
    assert split.answer == ""
    assert "截断" in split.reasoning


def test_it_combines_a_reasoning_field_with_a_leftover_closing_tag() -> None:
    split = reasoning_split(content="残留的想法</think>答案", reasoning_field="字段里的想法")
    assert split.answer == "答案"
    assert split.reasoning == "字段里的想法\n\n残留的想法"


def test_a_plain_answer_passes_unchanged() -> None:
    assert reasoning_split(content="  您好！  ") == type(reasoning_split(content=""))(reasoning="", answer="您好！")


def test_an_endpoint_row_that_does_not_think_keeps_the_full_sentences_of_a_cut_reply(
    openai_server: Callable[..., OpenAIServer], endpoint_for: Callable[..., Endpoint]
) -> None:
    # A plain chat model behind vLLM: a reply cut by max_tokens is a cut answer, not a cut thought.
    endpoint_for(openai_server(mode="cut", answer="您好，可以退货。请在订单页面点击申请退"), thinks=False)

    completion = services.completion_from_pool(endpoints=selectors.endpoints_enabled(), request=ask())

    assert completion.text == "您好，可以退货。"
    assert completion.finish_reason == "length"


def test_an_endpoint_row_that_thinks_sends_nothing_of_a_cut_reply(
    openai_server: Callable[..., OpenAIServer], endpoint_for: Callable[..., Endpoint]
) -> None:
    # R1 (the default): a reply cut with no closing tag may be a thought; none of it is an answer.
    endpoint_for(openai_server(mode="cut", answer="您好，可以退货。请在订单页面点击申请退"))

    with pytest.raises(NoEndpointAvailable, match="empty answer"):
        services.completion_from_pool(endpoints=selectors.endpoints_enabled(), request=ask())
