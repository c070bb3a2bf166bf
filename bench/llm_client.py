"""LLM client benchmark: per-call overhead vs raw httpx and aiohttp, CPU per call with many in flight,
and concurrent in-flight calls at 2 s latency.

    python bench/llm_client.py [--calls 300] [--cpu-in-flight 1 16 64 128] [--concurrency 256 512]

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
from collections.abc import Callable
from pathlib import Path

import aiohttp
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


async def raw_aiohttp_call(session: aiohttp.ClientSession, url: str) -> str:
    body = {"model": "deepseek-r1", "messages": REQUEST.messages, "max_tokens": 64, "stream": True}
    parts = []
    async with session.post(f"{url}/v1/chat/completions", json=body) as response:
        async for line in response.content:
            if line.strip() != b"data: [DONE]":
                parts.append(line.decode())
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
    raw_aiohttp_ms: list[float] = []
    ours_ms: list[float] = []
    loop = asyncio.new_event_loop()
    async_client = httpx.AsyncClient(trust_env=False)
    session = loop.run_until_complete(_session())
    with httpx.Client(trust_env=False) as client:
        for _ in range(30):  # warm every path: connections, Redis pool, imports
            raw_call(client, url)
            loop.run_until_complete(raw_async_call(async_client, url))
            loop.run_until_complete(raw_aiohttp_call(session, url))
            services.completion_from_pool(endpoints=ep, request=REQUEST)
        for _ in range(calls):  # interleaved, so machine noise hits all alike
            t = time.perf_counter()
            raw_call(client, url)
            raw_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            loop.run_until_complete(raw_async_call(async_client, url))
            raw_async_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            loop.run_until_complete(raw_aiohttp_call(session, url))
            raw_aiohttp_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            completion = services.completion_from_pool(endpoints=ep, request=REQUEST)
            ours_ms.append((time.perf_counter() - t) * 1000)
            assert completion.text
            assert "think>" not in completion.text
    loop.run_until_complete(async_client.aclose())
    loop.run_until_complete(session.close())
    rm, rp = statistics.median(raw_ms), pct(raw_ms, 0.99)
    am, ap = statistics.median(raw_async_ms), pct(raw_async_ms, 0.99)
    hm, hp = statistics.median(raw_aiohttp_ms), pct(raw_aiohttp_ms, 0.99)
    om, op = statistics.median(ours_ms), pct(ours_ms, 0.99)
    print(f"per call, {calls} sequential calls, server latency 0:")
    print(f"  raw httpx stream (sync) median {rm:6.2f} ms   P99 {rp:6.2f} ms")
    print(f"  raw httpx stream (async)median {am:6.2f} ms   P99 {ap:6.2f} ms")
    print(f"  raw aiohttp stream      median {hm:6.2f} ms   P99 {hp:6.2f} ms")
    print(f"  desk client (pool)      median {om:6.2f} ms   P99 {op:6.2f} ms")
    print(f"  overhead                median {om - rm:+6.2f} ms   P99 {op - rp:+6.2f} ms")
    print(f"  ratio desk/raw sync     median {om / rm:5.2f}x     P99 {op / rp:5.2f}x")
    print(f"  ratio desk/raw async    median {om / am:5.2f}x     P99 {op / ap:5.2f}x")
    print(f"  ratio desk/raw aiohttp  median {om / hm:5.2f}x     P99 {op / hp:5.2f}x")


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()


def cpu_in_flight(url: str, n: int, rounds: int) -> None:
    """CPU of this process per call with n calls in flight at once: raw httpx, raw aiohttp, the desk's client.

    What a worker pays per answer at load; the server (another process, 0.2 s to the first token) is not
    counted. httpx's pool walks its connections on every request and release, so its cost grows with the
    calls in flight; aiohttp's does not. The desk's figure adds what a Celery thread pays around the call
    (a thread each here, the breaker's Redis calls, the pool, the reasoning split).
    """
    ep = [endpoint(url, 900003)]

    def desk_round() -> None:
        barrier = threading.Barrier(n)

        def worker() -> None:
            barrier.wait()
            assert services.completion_from_pool(endpoints=ep, request=REQUEST).text

        threads = [threading.Thread(target=worker) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    async def httpx_round(client: httpx.AsyncClient) -> None:
        assert all(await asyncio.gather(*(raw_async_call(client, url) for _ in range(n))))

    async def aiohttp_round(session: aiohttp.ClientSession) -> None:
        assert all(await asyncio.gather(*(raw_aiohttp_call(session, url) for _ in range(n))))

    def cpu_ms(run: Callable[[], object]) -> float:
        started = time.process_time()
        run()
        return (time.process_time() - started) * 1000 / n

    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(trust_env=False, limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))
    session = loop.run_until_complete(_session())
    rounds_of: dict[str, Callable[[], object]] = {
        "httpx": lambda: loop.run_until_complete(httpx_round(client)),
        "aiohttp": lambda: loop.run_until_complete(aiohttp_round(session)),
        "desk": desk_round,
    }
    figures: dict[str, list[float]] = {name: [] for name in rounds_of}
    for run in rounds_of.values():
        run()  # warm: connections opened, imports done
    for _ in range(rounds):  # interleaved, so machine noise hits all alike
        for name, run in rounds_of.items():
            figures[name].append(cpu_ms(run))
    loop.run_until_complete(client.aclose())
    loop.run_until_complete(session.close())
    h, a, d = (statistics.median(figures[name]) for name in ("httpx", "aiohttp", "desk"))
    print(f"  {n:4d} in flight: raw httpx {h:5.2f} ms, raw aiohttp {a:5.2f} ms (httpx/aiohttp {h / a:4.1f}x),"
          f" desk client {d:5.2f} ms CPU per call")  # fmt: skip


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
    parser.add_argument("--cpu-in-flight", type=int, nargs="*", default=[1, 16, 64, 128])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if args.calls:
        fast, fast_url = start_server(0.0)
        try:
            overhead(fast_url, args.calls)
        finally:
            fast.terminate()
    if args.cpu_in_flight:
        print("CPU per call with calls in flight together, server latency 0.2 s:")
        mid, mid_url = start_server(0.2)
        try:
            for n in args.cpu_in_flight:
                cpu_in_flight(mid_url, n, args.rounds)
        finally:
            mid.terminate()
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
