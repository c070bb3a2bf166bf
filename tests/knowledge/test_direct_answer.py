"""Direct answers: a paraphrase of a curated question gets the curated answer, without the LLM."""

from typing import Any

from django.test import Client

from apps.conversations.models import Message
from apps.knowledge import selectors
from apps.knowledge.models import Entry
from apps.llm.answerer import LLMAnswerer
from apps.llm.models import Endpoint
from peers.openai_server import OpenAIServer
from tests.knowledge.conftest import faq_of

AUTH = {"Authorization": "Bearer test-inbound-token"}


def ask(question: str) -> tuple[str, dict[str, object]]:
    answer = LLMAnswerer().answer(conversation_id=0, question=question, context=[])
    return answer.text, answer.meta


def test_the_embed_task_stores_vectors_for_every_entry(faq: dict[str, Entry]) -> None:
    assert selectors.entries_stale_ids() == []
    entry = Entry.objects.get(pk=faq["invoice"].pk)
    assert entry.embedding is not None
    assert len(bytes(entry.embedding)) == len(entry.phrases()) * 512 * 4  # m3e-small: 512 float32 per phrase


def test_a_paraphrase_gets_the_direct_answer_without_the_llm(
    faq: dict[str, Entry], llm_server: OpenAIServer, llm_endpoint: Endpoint
) -> None:
    text, meta = ask("能开发票吗")  # not one of the entry's stored phrasings

    assert text == faq_of("invoice").answer
    assert meta["source"] == "knowledge"
    assert meta["entry_id"] == faq["invoice"].pk
    assert float(meta["score"]) >= 0.94  # type: ignore[arg-type]
    assert llm_server.stats.requests == 0


def test_an_unrelated_question_is_declined_without_the_llm_and_a_greeting_goes_to_it(
    faq: dict[str, Entry], llm_server: OpenAIServer, llm_endpoint: Endpoint, settings: Any
) -> None:
    text, meta = ask("帮我写一首关于春天的诗")

    assert text == settings.LLM_OUT_OF_SCOPE_REPLY
    assert meta == {"source": "guard", "guard": "out_of_scope"}
    assert llm_server.stats.requests == 0

    text, meta = ask("你好呀")

    assert text == "这是模型的回答。"
    assert meta["source"] == "llm"
    assert llm_server.stats.requests == 1


def test_with_the_decline_off_an_unrelated_question_goes_to_the_llm(
    faq: dict[str, Entry], llm_server: OpenAIServer, llm_endpoint: Endpoint, settings: Any
) -> None:
    settings.LLM_OUT_OF_SCOPE_DECLINE = False

    text, meta = ask("帮我写一首关于春天的诗")

    assert text == "这是模型的回答。"
    assert meta["source"] == "llm"
    assert llm_server.stats.requests == 1


def test_a_near_miss_is_not_answered_directly_but_its_neighbour_reaches_the_prompt(
    faq: dict[str, Entry], llm_server: OpenAIServer, llm_endpoint: Endpoint
) -> None:
    # Shares words and topic with "积分有什么用？" but asks something that entry does not answer.
    _, meta = ask("积分怎么获得")

    assert meta["source"] == "llm"
    assert faq["points-use"].pk in meta["knowledge_ids"]  # type: ignore[operator]
    prompt = llm_server.stats.bodies[-1]["messages"][-1]["content"]
    assert "参考资料" in prompt
    assert faq_of("points-use").answer in prompt


def test_a_disabled_entry_never_answers(
    faq: dict[str, Entry], llm_server: OpenAIServer, llm_endpoint: Endpoint
) -> None:
    from apps.knowledge import services

    services.entries_set_enabled(entries=[faq["invoice"]], enabled=False)

    _, meta = ask("能开发票吗")

    assert meta["source"] == "llm"
    assert faq["invoice"].pk not in meta["knowledge_ids"]  # type: ignore[operator]


def test_the_spine_stores_the_direct_answer_marked_as_such(
    faq: dict[str, Entry], llm_server: OpenAIServer, llm_endpoint: Endpoint, client: Client
) -> None:
    payload = {
        "channel": "simulator",
        "channel_message_id": "kb-1",
        "external_user_id": "cust-kb",
        "text": "申请退款后多久能收到钱",
    }
    response = client.post("/api/inbound/messages", payload, content_type="application/json", headers=AUTH)
    assert response.status_code == 202

    reply = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert reply.body == faq_of("refund-time").answer
    assert reply.answer_meta["source"] == "knowledge"
    assert reply.answer_meta["entry_id"] == faq["refund-time"].pk
    assert reply.status == Message.Status.DELIVERED
    assert llm_server.stats.requests == 0
