"""Endpoint pool: weighted choice, failover, breaker cooldown and recovery, timeouts, health checks."""

import time
from collections.abc import Callable

import pytest

from apps.llm import selectors, services
from apps.llm.models import Endpoint
from apps.llm.types import ChatRequest, Completion, NoEndpointAvailable
from peers.openai_server import OpenAIServer

Start = Callable[..., OpenAIServer]
MakeEndpoint = Callable[..., Endpoint]


def ask() -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": "你好"}], max_tokens=64, temperature=0.6, top_p=0.95)


def call() -> Completion:
    return services.completion_from_pool(endpoints=selectors.endpoints_enabled(), request=ask())


def state(endpoint: Endpoint) -> str:
    return selectors.endpoint_state(endpoint_id=endpoint.pk)


def test_it_fails_over_to_another_endpoint_when_one_errors(openai_server: Start, endpoint_for: MakeEndpoint) -> None:
    broken, healthy = openai_server(mode="error", status=503), openai_server(answer="好的")
    endpoint_for(broken, weight=1000)
    endpoint_for(healthy, weight=1)

    completions = [call() for _ in range(3)]

    assert all(c.text == "好的" for c in completions)
    assert {c.endpoint for c in completions} == {f"gpu-{healthy.port}"}
    assert broken.stats.requests >= 1


def test_it_cools_an_endpoint_down_after_three_failures_then_recovers_through_a_probe(
    openai_server: Start, endpoint_for: MakeEndpoint
) -> None:
    flaky, healthy = openai_server(mode="error", status=500), openai_server()
    flaky_row = endpoint_for(flaky, weight=1000)
    endpoint_for(healthy, weight=1)
    while flaky.stats.requests < 3:
        call()
    assert state(flaky_row) == "open"

    before = flaky.stats.requests
    for _ in range(5):
        call()
    assert flaky.stats.requests == before, "an open breaker must keep calls away"

    flaky.behave(mode="content", answer="我恢复了")
    time.sleep(0.5)  # the cooldown (0.4 s in tests) passes: half-open
    assert state(flaky_row) == "half-open"
    probe = call()  # weight 1000: the probe goes to the recovering endpoint

    assert probe.text == "我恢复了"
    assert state(flaky_row) == "closed"


def test_a_failed_probe_reopens_the_breaker_for_longer(openai_server: Start, endpoint_for: MakeEndpoint) -> None:
    dead, healthy = openai_server(mode="error", status=502), openai_server()
    dead_row = endpoint_for(dead, weight=1000)
    endpoint_for(healthy, weight=1)
    while state(dead_row) != "open":
        call()
    time.sleep(0.5)

    call()  # the half-open probe fails and fails over

    assert state(dead_row) == "open"
    time.sleep(0.5)
    assert state(dead_row) == "open", "the second cooldown doubles (0.8 s)"


def test_a_hanging_endpoint_times_out_and_the_call_fails_over(openai_server: Start, endpoint_for: MakeEndpoint) -> None:
    hanging, healthy = openai_server(mode="hang"), openai_server(answer="来自健康的服务器")
    endpoint_for(hanging, weight=1000, read_timeout_s=0.3)
    endpoint_for(healthy, weight=1)

    started = time.monotonic()
    completion = call()

    assert completion.text == "来自健康的服务器"
    assert completion.meta()["attempts"] == 2
    assert "ReadTimeout" in completion.meta()["failures"][0]
    assert time.monotonic() - started < 2


def test_a_stream_that_stalls_after_the_first_chunk_times_out(openai_server: Start, endpoint_for: MakeEndpoint) -> None:
    endpoint_for(openai_server(mode="stall"), read_timeout_s=0.3)

    with pytest.raises(NoEndpointAvailable, match="ReadTimeout"):
        call()


def test_the_total_timeout_bounds_a_slow_trickle(openai_server: Start, endpoint_for: MakeEndpoint) -> None:
    endpoint_for(openai_server(chunk_delay_s=0.2, answer="一" * 40), total_timeout_s=0.5)

    with pytest.raises(NoEndpointAvailable, match="no answer within"):
        call()


def test_the_answer_budget_caps_even_a_generous_endpoint_timeout(
    openai_server: Start, endpoint_for: MakeEndpoint, settings: object
) -> None:
    # The threads pool enforces no task time limit: the budget bounds how long one answer may wait.
    settings.LLM_ANSWER_BUDGET_S = 0.6  # type: ignore[attr-defined]
    endpoint_for(openai_server(chunk_delay_s=0.2, answer="一" * 40), total_timeout_s=900, read_timeout_s=600)

    started = time.monotonic()
    with pytest.raises(NoEndpointAvailable, match="no answer within 1s"):
        call()
    assert time.monotonic() - started < 3


def test_a_stream_cut_before_it_finished_is_a_failure(openai_server: Start, endpoint_for: MakeEndpoint) -> None:
    endpoint_for(openai_server(mode="broken"))

    with pytest.raises(NoEndpointAvailable, match="stream ended"):
        call()


def test_every_endpoint_down_raises_no_endpoint_available(openai_server: Start, endpoint_for: MakeEndpoint) -> None:
    endpoint_for(openai_server(mode="error", status=500))
    endpoint_for(openai_server(mode="error", status=503))

    with pytest.raises(NoEndpointAvailable, match="HTTP 50"):
        call()


def test_a_rejected_request_is_not_retried_nor_held_against_the_endpoint(
    openai_server: Start, endpoint_for: MakeEndpoint
) -> None:
    strict, other = openai_server(mode="error", status=400), openai_server()
    strict_row = endpoint_for(strict, weight=1000)
    endpoint_for(other, weight=1)

    for _ in range(4):
        with pytest.raises(NoEndpointAvailable, match="request refused"):
            call()

    assert other.stats.requests == 0
    assert state(strict_row) == "closed"


def test_an_empty_answer_after_the_split_is_asked_again(openai_server: Start, endpoint_for: MakeEndpoint) -> None:
    endpoint_for(openai_server(mode="only_reasoning"))

    with pytest.raises(NoEndpointAvailable, match=r"empty answer.*empty answer"):
        call()


def test_weights_share_the_traffic(openai_server: Start, endpoint_for: MakeEndpoint) -> None:
    heavy, light = openai_server(), openai_server()
    endpoint_for(heavy, weight=3)
    endpoint_for(light, weight=1)

    for _ in range(80):
        call()

    assert 40 <= heavy.stats.requests <= 75
    assert light.stats.requests >= 5


def test_it_sends_r1_sampling_defaults_and_max_tokens(openai_server: Start, endpoint_for: MakeEndpoint) -> None:
    server = openai_server()
    endpoint_for(server, api_key="sk-local")

    services.completion_create(question="几点开门？", context=[])

    body = server.stats.bodies[-1]
    assert body["temperature"] == 0.6
    assert body["top_p"] == 0.95
    assert body["max_tokens"] == 1024
    assert body["stream"] is True
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["messages"][0]["content"].endswith("顾客：几点开门？")


def test_the_completion_records_timings_tokens_endpoint_and_model(
    openai_server: Start, endpoint_for: MakeEndpoint
) -> None:
    server = openai_server(latency_s=0.2, mode="reasoning_content")
    endpoint_for(server)

    meta = call().meta()

    assert meta["endpoint"] == f"gpu-{server.port}"
    assert meta["model"] == "deepseek-r1"
    assert meta["ttft_ms"] >= 200
    assert meta["total_ms"] >= meta["ttft_ms"]
    assert meta["tokens_in"] == 42
    assert meta["tokens_out"] > 0


def test_a_failed_health_check_opens_the_breaker_and_a_good_one_passes(
    openai_server: Start, endpoint_for: MakeEndpoint
) -> None:
    good, sick = openai_server(), openai_server(healthy=False)
    good_row, sick_row = endpoint_for(good), endpoint_for(sick)
    wrong_model = endpoint_for(good, name="wrong-model", model="qwen")

    report = {h.endpoint: h for h in services.endpoints_probe_all()}

    assert report[good_row.name].ok
    assert not report[sick_row.name].ok
    assert "503" in report[sick_row.name].detail
    assert not report[wrong_model.name].ok
    assert state(sick_row) == "open"
    assert state(good_row) == "closed"
