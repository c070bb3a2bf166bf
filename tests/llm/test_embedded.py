"""The embedded model: assembled from pinned slices, verified before it is loaded, refused when changed,
and reached through the pool like any endpoint. Only the last test loads the real model (~1.1 GB)."""

import asyncio
import dataclasses
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from apps.conversations.models import Conversation, Message
from apps.conversations.pipeline import AnswerUnavailable
from apps.knowledge.index import knowledge_base
from apps.knowledge.management.commands.knowledge_demo import demo_store_rows
from apps.knowledge.models import Entry
from apps.llm import client, embedded_model, embedded_server, selectors, services
from apps.llm.answerer import LLMAnswerer
from apps.llm.embedded_model import SPEC, ModelSpec
from apps.llm.models import Endpoint
from apps.llm.types import ChatRequest, NoEndpointAvailable
from peers.openai_server import OpenAIServer
from tests.factories import receive
from tests.llm.model_files import flip_one_byte

Start = Callable[..., OpenAIServer]
MakeEndpoint = Callable[..., Endpoint]
FALLBACK = "您好，人工客服稍后回复您，请稍候。"
CJK = re.compile(r"[\u4e00-\u9fff]")
ROOT = Path(__file__).resolve().parents[2]


# --- the model server, refusing (no model loaded) ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def refused_server(
    assembled: Path, spec: ModelSpec, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[str]:
    """The model server started on a tampered file: the URL of what it serves instead."""
    monkeypatch.setattr(embedded_server, "SPEC", spec)
    monkeypatch.setenv("LLM_EMBEDDED_MODEL_DIR", str(assembled.parent))
    monkeypatch.setenv("LLM_EMBEDDED_ENABLED", "true")

    def must_not_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("llama.cpp was asked to load a refused file")

    monkeypatch.setattr(embedded_server, "serve_model", must_not_load)
    flip_one_byte(assembled)
    port = free_port()
    with caplog.at_level(logging.INFO, logger="apps.llm"):
        state, server = embedded_server.start(host="127.0.0.1", port=port)
    assert state == "refused"
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def test_the_server_refuses_a_changed_model_file_loudly_and_says_why_on_its_port(
    refused_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    (record,) = [r for r in caplog.get_records("setup") if r.levelno >= logging.ERROR]
    assert "REFUSING the embedded model" in record.getMessage()
    assert "not the pinned" in record.getMessage()
    assert "make install" in record.getMessage()

    health = httpx.get(f"{refused_server}/health", timeout=5)
    chat = httpx.post(f"{refused_server}/v1/chat/completions", json={"messages": []}, timeout=5)
    assert (health.status_code, chat.status_code) == (503, 503)
    assert "not the pinned" in chat.json()["error"]["message"]


def test_the_off_switch_loads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_EMBEDDED_ENABLED", "false")
    monkeypatch.setattr(embedded_model, "verify", lambda *a, **k: pytest.fail("verified while off"))
    port = free_port()

    state, server = embedded_server.start(host="127.0.0.1", port=port)
    try:
        assert state == "off"
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200  # a green container
        chat = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={}, timeout=5)
        assert chat.status_code == 503
        assert "LLM_EMBEDDED_ENABLED=false" in chat.json()["error"]["message"]
    finally:
        server.shutdown()


# --- the desk: the embedded server as one endpoint of the pool ---------------------------------------


def use_embedded(settings: Any, server: OpenAIServer, *, suffix: str = "") -> None:
    settings.LLM_EMBEDDED_ENABLED = True
    settings.LLM_EMBEDDED_URL = server.url + suffix
    settings.LLM_EMBEDDED_MODEL = server.behaviour.model
    settings.LLM_EMBEDDED_READ_TIMEOUT_S = 2.0
    settings.LLM_EMBEDDED_TOTAL_TIMEOUT_S = 5.0


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["", "/v1"])
def test_with_no_endpoint_the_pool_answers_through_the_embedded_server(
    openai_server: Start, settings: Any, suffix: str
) -> None:
    server = openai_server(answer="您好，请在「我的订单」里申请售后。", model="qwen2.5-coder-1.5b-instruct")
    use_embedded(settings, server, suffix=suffix)
    settings.LLM_EMBEDDED_MAX_TOKENS = 200

    answer = LLMAnswerer().answer(conversation_id=1, question="你好，我想退货，怎么操作？", context=[])

    assert answer.text == "您好，请在「我的订单」里申请售后。"
    assert (answer.meta["endpoint"], answer.meta["model"]) == ("embedded", "qwen2.5-coder-1.5b-instruct")
    (body,) = server.stats.bodies
    system, user = body["messages"]
    # Qwen's ChatML: the store's persona as the system message, the customer's words alone as the user's.
    assert system["role"] == "system"
    assert "客服" in system["content"]
    assert user == {"role": "user", "content": "你好，我想退货，怎么操作？"}
    assert body["max_tokens"] == 200
    assert body["stream"] is True


@pytest.mark.parametrize("embedded", [True, False])
def test_the_embedded_server_gets_a_fresh_connection_per_call(
    openai_server: Start, settings: Any, embedded: bool
) -> None:
    # llama.cpp's server now and then drops a kept-alive connection as the next request goes out.
    server = openai_server(answer="好的。")
    use_embedded(settings, server)
    endpoint = selectors.embedded_endpoint()
    assert endpoint is not None
    if not embedded:  # the contrast: a vLLM endpoint keeps its connection between calls
        endpoint = dataclasses.replace(endpoint, keep_alive=True)
    request = ChatRequest(
        messages=[{"role": "user", "content": "几点开门？"}], max_tokens=32, temperature=0.6, top_p=0.95
    )

    async def three_calls() -> list[str]:
        async with client.http_client(max_connections=4) as http:
            return [(await client.chat_complete(http=http, endpoint=endpoint, request=request)).text for _ in range(3)]

    assert asyncio.run(three_calls()) == ["好的。"] * 3
    assert len(server.stats.peers) == (3 if embedded else 1)


@pytest.mark.django_db
def test_an_enabled_endpoint_takes_every_question_from_the_embedded_model(
    openai_server: Start, endpoint_for: MakeEndpoint, settings: Any
) -> None:
    embedded = openai_server(answer="embedded")
    use_embedded(settings, embedded)
    endpoint_for(openai_server(answer="来自 GPU 的回答。"))

    answer = LLMAnswerer().answer(conversation_id=1, question="几点开门？", context=[])

    assert answer.text == "来自 GPU 的回答。"
    assert embedded.stats.requests == 0


@pytest.mark.django_db
@pytest.mark.parametrize("switch", ["LLM_EMBEDDED_ENABLED", "LLM_EMBEDDED_URL"])
def test_the_off_switch_leaves_nothing_to_answer_with(openai_server: Start, settings: Any, switch: str) -> None:
    server = openai_server()
    use_embedded(settings, server)
    setattr(settings, switch, False if switch == "LLM_EMBEDDED_ENABLED" else "")

    with pytest.raises(NoEndpointAvailable, match="embedded model is off") as raised:
        services.completion_create(question="你好", context=[])
    assert not raised.value.retryable
    assert server.stats.requests == 0


@pytest.mark.django_db
def test_a_plain_answer_cut_by_max_tokens_keeps_its_full_sentences(openai_server: Start, settings: Any) -> None:
    # Qwen has no <think>: a cut answer is not a cut thought, so it must not be emptied (R1's rule).
    use_embedded(settings, openai_server(mode="cut", answer="您好，可以退货。请在订单页面点击申请退"))

    answer = LLMAnswerer().answer(conversation_id=1, question="怎么退货？", context=[])

    assert answer.text == "您好，可以退货。"
    assert answer.reasoning == ""
    assert answer.meta["finish_reason"] == "length"


@pytest.mark.django_db
def test_the_probe_checks_the_embedded_server_while_it_is_in_use(openai_server: Start, settings: Any) -> None:
    server = openai_server(model="qwen2.5-coder-1.5b-instruct")
    use_embedded(settings, server)

    (health,) = services.endpoints_probe_all()
    assert (health.endpoint, health.ok) == ("embedded", True)

    server.behave(healthy=False)
    (health,) = services.endpoints_probe_all()
    assert (health.endpoint, health.ok) == ("embedded", False)
    assert selectors.endpoint_state(endpoint_id=selectors.EMBEDDED_ENDPOINT_ID) == "open"


# --- the desk with a refused model: knowledge answers, people take the rest --------------------------


@pytest.fixture
def refund_entry(eager_tasks: None, settings: Any) -> Iterator[str]:
    """One knowledge entry with a direct answer, embedded by its task (m3e-small)."""
    from django.core.cache import cache

    from apps.knowledge import services as knowledge
    from apps.knowledge.index import knowledge_base
    from apps.knowledge.models import Entry
    from apps.knowledge.selectors import KNOWLEDGE_VERSION_KEY
    from apps.llm.cache import answer_cache

    settings.KNOWLEDGE_RELOAD_SECONDS = 0
    knowledge_base().forget()
    answer_cache().clear_local()
    answer = "退款会在审核通过后 1-3 个工作日内原路退回。"
    knowledge.entry_save(
        entry=Entry(question="退款多久能到账？", variants="申请退款后多久能收到钱\n退款几天到账", answer=answer)
    )
    yield answer
    cache.delete(KNOWLEDGE_VERSION_KEY)
    knowledge_base().forget()
    answer_cache().clear_local()


def test_with_the_model_refused_the_desk_answers_from_knowledge_and_hands_the_rest_to_people(
    refused_server: str, refund_entry: str, settings: Any
) -> None:
    settings.LLM_EMBEDDED_ENABLED = True
    settings.LLM_EMBEDDED_URL = refused_server
    settings.DESK_ANSWER_PATIENCE_SECONDS = 0  # no waiting out a refusal: it does not end by itself
    settings.LLM_OUT_OF_SCOPE_DECLINE = False  # the unknown question goes to the (refused) model

    known = receive("退款几天到账？", user="cust-kb").message
    unknown = receive("你们的杯子能进洗碗机吗？", user="cust-llm").message

    known_reply = Message.objects.get(reply_to=known)
    assert (known_reply.body, known_reply.answer_meta["source"]) == (refund_entry, "knowledge")
    unknown = Message.objects.select_related("conversation").get(pk=unknown.pk)
    unknown_reply = Message.objects.get(reply_to=unknown)
    assert (unknown_reply.author_kind, unknown_reply.body) == (Message.AuthorKind.SYSTEM, FALLBACK)
    assert unknown_reply.status == Message.Status.DELIVERED
    assert unknown.status == Message.Status.FAILED
    assert "embedded model refused" in unknown.error
    assert unknown.conversation.mode == Conversation.Mode.QUEUED


@pytest.mark.django_db
def test_an_embedded_server_that_is_not_running_is_an_outage_worth_waiting_out(settings: Any) -> None:
    settings.LLM_EMBEDDED_ENABLED = True
    settings.LLM_EMBEDDED_URL = f"http://127.0.0.1:{free_port()}"  # still loading, or never started

    with pytest.raises(AnswerUnavailable, match="embedded: ConnectError") as raised:
        LLMAnswerer().answer(conversation_id=1, question="你好", context=[])
    assert raised.value.retryable


# --- the real model: one Chinese question --------------------------------------------------------------


@pytest.mark.live
@pytest.mark.django_db
@pytest.mark.timeout(240)
def test_the_real_model_answers_a_chinese_question_in_chinese(settings: Any, tmp_path: Path) -> None:
    path = embedded_model.model_path()
    if not embedded_model.stamp_matches(SPEC, path):
        pytest.skip(f"{path} is not assembled: make install")
    port = free_port()
    env = {**os.environ, "LLM_EMBEDDED_PORT": str(port), "LLM_EMBEDDED_ENABLED": "true", "DESK_LOG_LEVEL": "INFO"}
    process = subprocess.Popen(
        [sys.executable, "-m", "apps.llm.embedded_server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "server.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "the model server exited"
            time.sleep(0.5)
        else:
            pytest.fail("the model server did not come up within 120 s")
        settings.LLM_EMBEDDED_ENABLED = True
        settings.LLM_EMBEDDED_URL = f"http://127.0.0.1:{port}"
        settings.LLM_EMBEDDED_MAX_TOKENS = 96
        settings.LLM_EMBEDDED_TOTAL_TIMEOUT_S = 150.0
        # The demo shop's return policy, as a snippet only (not sent as it is): the model drafts from it.
        returns = next(row for row in demo_store_rows() if row["question"] == "怎么申请退货？")
        Entry.objects.create(question=returns["question"], answer=returns["answer"], direct_answer=False)
        knowledge_base().forget()  # rebuilt from this test's rows (and again after it)

        answer = LLMAnswerer().answer(conversation_id=1, question="你好，我想退货，怎么操作？", context=[])
    finally:
        knowledge_base().forget()
        process.terminate()
        process.wait(timeout=30)

    print(f"{answer.text!r} {answer.meta}")  # with -s: what the model said, and how fast
    # Grounded in the snippet and in Chinese: the guard let the draft through.
    assert answer.hand_over == "", answer.reasoning
    assert CJK.search(answer.text), answer.text
    assert answer.meta["source"] == "llm"
    assert answer.meta["endpoint"] == "embedded"
    assert "SHA-256 verified" in (tmp_path / "server.log").read_text(errors="replace")
