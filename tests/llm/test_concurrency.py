"""Many worker threads (a Celery threads pool) share one event loop: all their calls are in flight together."""

import threading
import time
from collections.abc import Callable

from apps.llm import selectors, services
from apps.llm.models import Endpoint
from apps.llm.types import ChatRequest
from peers.openai_server import OpenAIServer

CALLS = 256


def test_256_calls_from_worker_threads_are_in_flight_together_and_none_is_lost(
    openai_server: Callable[..., OpenAIServer], endpoint_for: Callable[..., Endpoint]
) -> None:
    server = openai_server(latency_s=2.0, answer="好的")
    endpoint_for(server, read_timeout_s=20, total_timeout_s=30, max_concurrency=1024)
    endpoints = selectors.endpoints_enabled()
    request = ChatRequest(messages=[{"role": "user", "content": "你好"}], max_tokens=16, temperature=0.6, top_p=0.95)
    answers: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CALLS)

    def worker() -> None:
        barrier.wait()
        text = services.completion_from_pool(endpoints=endpoints, request=request).text
        with lock:
            answers.append(text)

    threads = [threading.Thread(target=worker) for _ in range(CALLS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert answers == ["好的"] * CALLS
    assert server.stats.max_in_flight == CALLS
    assert time.monotonic() - started < 30, "serially this would take over four minutes"
