"""LLM client benchmark: per-call overhead vs raw httpx, and concurrent in-flight calls at 2 s latency.

    python bench/llm_client.py [--calls 300] [--concurrency 256 512]

Starts the local OpenAI-compatible test server (peers/openai_server.py) in subprocesses, so the
server's work does not share a GIL with the client being measured. Needs Redis (breaker state).
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
os.environ.setdefault("DESK_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from apps.llm import services  # noqa: E402
from apps.llm.types import ChatRequest, EndpointConfig  # noqa: E402

REQUEST = ChatRequest(messages=[{"role": "user", "content": "几点开门？"}], max_tokens=64, temperature=0.6, top_p=0.95)


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "peers/openai_server.py"), "--latency", str(latency), "--mode", "bare_think"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def endpoint(url: str, endpoint_id: int) -> EndpointConfig:
    return EndpointConfig(
        id=endpoint_id,
        name=f"bench-{endpoint_id}",
        base_url=url,
        model="deepseek-r1",
        api_key="",
        weight=1,
        connect_timeout_s=5,
        read_timeout_s=30,
        total_timeout_s=60,
        max_concurrency=4096,
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def raw_call(client: httpx.Client, url: str) -> str:
    body = {"model": "deepseek-r1", "messages": REQUEST.messages, "max_tokens": 64, "stream": True}
    parts = []
    with client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if line != "data: [DONE]":
                parts.append(line)
    return "".join(parts)


async def raw_async_call(client: httpx.AsyncClient, url: str) -> str:
    body = {"model": "deepseek-r1", "messages": REQUEST.messages, "max_tokens": 64, "stream": True}
    parts = []
    async with client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if line != "data: [DONE]":
                parts.append(line)
    return "".join(parts)


def overhead(url: str, calls: int) -> None:
    ep = [endpoint(url, 900001)]
    raw_ms: list[float] = []
    raw_async_ms: list[float] = []
    ours_ms: list[float] = []
    loop = asyncio.new_event_loop()
    async_client = httpx.AsyncClient(trust_env=False)
    with httpx.Client(trust_env=False) as client:
        for _ in range(30):  # warm every path: connections, Redis pool, imports
            raw_call(client, url)
            loop.run_until_complete(raw_async_call(async_client, url))
            services.completion_from_pool(endpoints=ep, request=REQUEST)
        for _ in range(calls):  # interleaved, so machine noise hits all alike
            t = time.perf_counter()
            raw_call(client, url)
            raw_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            loop.run_until_complete(raw_async_call(async_client, url))
            raw_async_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            completion = services.completion_from_pool(endpoints=ep, request=REQUEST)
            ours_ms.append((time.perf_counter() - t) * 1000)
            assert completion.text
            assert "think>" not in completion.text
    loop.run_until_complete(async_client.aclose())
    rm, rp = statistics.median(raw_ms), pct(raw_ms, 0.99)
    am, ap = statistics.median(raw_async_ms), pct(raw_async_ms, 0.99)
    om, op = statistics.median(ours_ms), pct(ours_ms, 0.99)
    print(f"per call, {calls} sequential calls, server latency 0:")
    print(f"  raw httpx stream (sync) median {rm:6.2f} ms   P99 {rp:6.2f} ms")
    print(f"  raw httpx stream (async)median {am:6.2f} ms   P99 {ap:6.2f} ms")
    print(f"  desk client (pool)      median {om:6.2f} ms   P99 {op:6.2f} ms")
    print(f"  overhead                median {om - rm:+6.2f} ms   P99 {op - rp:+6.2f} ms")
    print(f"  ratio desk/raw sync     median {om / rm:5.2f}x     P99 {op / rp:5.2f}x")
    print(f"  ratio desk/raw async    median {om / am:5.2f}x     P99 {op / ap:5.2f}x")


def concurrency(url: str, n: int) -> None:
    """n worker threads (as a Celery threads pool) each make one call at once against a 2 s server."""
    ep = [endpoint(url, 900002)]
    ok = 0
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def worker() -> None:
        nonlocal ok
        barrier.wait()
        try:
            completion = services.completion_from_pool(endpoints=ep, request=REQUEST)
        except Exception as exc:
            with lock:
                errors.append(repr(exc))
            return
        with lock:
            ok += completion.text != ""

    httpx.get(f"{url}/_stats")
    threads = [threading.Thread(target=worker) for _ in range(n)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    peak = httpx.get(f"{url}/_stats").json()["max_in_flight"]
    print(
        f"  {n:4d} calls at once: peak in flight at the server {peak:4d}, answered {ok}/{n}, "
        f"lost {n - ok}, wall {wall:.2f} s (serial would be {2 * n} s)"
    )
    if errors:
        print(f"    first error: {errors[0]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[256, 512])
    args = parser.parse_args()
    if args.calls:
        fast, fast_url = start_server(0.0)
        try:
            overhead(fast_url, args.calls)
        finally:
            fast.terminate()
    if args.concurrency:
        print("concurrent in-flight calls, server latency 2 s (one worker process, one event loop):")
    for n in args.concurrency:
        slow, slow_url = start_server(2.0)  # a fresh server per run so its peak counter is this run's
        try:
            concurrency(slow_url, n)
        finally:
            slow.terminate()


if __name__ == "__main__":
    main()
