"""The answer cache: first turns only, two levels, and never an answer computed from old knowledge or prompts."""

import contextlib

from apps.conversations.pipeline import AnswerUnavailable, Turn
from apps.knowledge import services
from apps.knowledge.models import Entry
from apps.llm.answerer import LLMAnswerer
from apps.llm.cache import answer_cache, question_normalise
from apps.llm.models import Endpoint, PromptSettings
from peers.openai_server import OpenAIServer


def ask(question: str, context: list[Turn] | None = None) -> dict[str, object]:
    return LLMAnswerer().answer(conversation_id=0, question=question, context=context or []).meta


def test_the_same_first_question_is_answered_from_memory_then_from_redis(
    llm_server: OpenAIServer, llm_endpoint: Endpoint
) -> None:
    assert ask("这件衣服可以机洗吗？")["source"] == "llm"

    again = ask("这件衣服 可以机洗吗")  # punctuation and spaces do not make a new question
    assert again["source"] == "cache"
    assert again["cache_level"] == "memory"
    answer_cache().clear_local()  # another worker process: only Redis has it
    assert ask("这件衣服可以机洗吗")["cache_level"] == "redis"

    assert llm_server.stats.requests == 1
    stats = answer_cache().stats
    assert (stats.memory_hits, stats.redis_hits) == (0, 1)  # the memory hit was before clear_local


def test_a_turn_with_context_is_never_cached(llm_server: OpenAIServer, llm_endpoint: Endpoint) -> None:
    context = [Turn(role="customer", text="我买了一件羊毛衫"), Turn(role="assistant", text="好的")]

    ask("可以机洗吗", context)
    ask("可以机洗吗", context)

    assert llm_server.stats.requests == 2


def test_a_changed_entry_invalidates_the_cache(
    llm_server: OpenAIServer, llm_endpoint: Endpoint, eager_tasks: None
) -> None:
    entry = services.entry_save(entry=Entry(question="羊毛衫怎么洗？", answer="请手洗，不要机洗。"))
    ask("这件衣服可以机洗吗")
    assert ask("这件衣服可以机洗吗")["source"] == "cache"

    entry.answer = "羊毛衫请干洗。"
    services.entry_save(entry=entry)

    assert ask("这件衣服可以机洗吗")["source"] == "llm"
    assert llm_server.stats.requests == 2
    assert "羊毛衫请干洗。" in llm_server.stats.bodies[-1]["messages"][-1]["content"]


def test_a_prompt_change_invalidates_the_cache(llm_server: OpenAIServer, llm_endpoint: Endpoint) -> None:
    ask("这件衣服可以机洗吗")
    PromptSettings.objects.create(instructions="你是本店客服，请用一句话回答。")

    assert ask("这件衣服可以机洗吗")["source"] == "llm"
    assert llm_server.stats.requests == 2


def test_a_failed_or_cut_answer_is_not_cached(llm_server: OpenAIServer, llm_endpoint: Endpoint) -> None:
    llm_server.behave(mode="unterminated")  # cut by max_tokens: R1 thought and never answered
    with contextlib.suppress(AnswerUnavailable):  # the answerer may give up; what matters is what the cache kept
        ask("这件衣服可以机洗吗")
    llm_server.behave(mode="content")

    assert ask("这件衣服可以机洗吗")["source"] == "llm"


def test_normalisation_keeps_meaning_and_drops_only_form() -> None:
    assert question_normalise("ＡＢＣ 退货？！") == question_normalise("abc退货")
    assert question_normalise("退货") != question_normalise("换货")
