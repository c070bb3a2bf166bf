"""A local OpenAI-compatible server that streams like vLLM, for tests and the benchmark.

It speaks /v1/chat/completions (SSE chunks, usage chunk, [DONE]), /v1/models and /health, and does
what a test tells it through ``behaviour``: a set latency, reasoning in ``reasoning_content`` or
``reasoning`` fields, ``<think>`` tags or a bare ``</think>``, HTTP errors, hangs, broken streams.
Run it alone for the benchmark: ``python peers/openai_server.py --latency 2`` prints its port.
"""

import argparse
import asyncio
import json
import ssl
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Literal

from aiohttp import web

Mode = Literal[
    "content",  # plain answer in delta.content
    "reasoning_content",  # vLLM --reasoning-parser deepseek_r1 (older field name)
    "reasoning",  # same, newer field name
    "think_tags",  # <think>…</think>answer in content
    "bare_think",  # R1 template opened <think> in the prompt: thought…</think>answer
    "unterminated",  # thought with no closing tag, cut by max_tokens
    "cut",  # a plain answer (no reasoning at all, like Qwen2.5) cut by max_tokens
    "only_reasoning",  # a reasoning field and no answer at all
    "error",  # HTTP ``status`` before any chunk
    "hang",  # never sends response headers
    "stall",  # sends a first chunk, then nothing
    "broken",  # closes the stream without finish_reason or [DONE]
]


@dataclass
class Behaviour:
    mode: Mode = "content"
    answer: str = "您好，我们每天九点开门。"
    thought: str = "顾客问营业时间。SECRET-REASONING 需要简短回答。"
    latency_s: float = 0.0  # before the first chunk (the model "thinking")
    chunk_delay_s: float = 0.0
    status: int = 503
    healthy: bool = True
    model: str = "deepseek-r1"


@dataclass
class Stats:
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    bodies: list[dict] = field(default_factory=list)
    peers: set[tuple] = field(default_factory=set)  # the clients' (host, port): one per TCP connection


def _chunk(model: str, delta: dict, finish: str | None = None) -> bytes:
    event = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode()


def _pieces(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


class OpenAIServer:
    def __init__(
        self,
        behaviour: Behaviour | None = None,
        *,
        record_bodies: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.behaviour = behaviour or Behaviour()
        # https when given (tests/llm/test_tls.py: a throwaway CA, optionally requiring client certificates).
        self.ssl_context = ssl_context
        self.stats = Stats()
        self.record_bodies = record_bodies
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def behave(self, **changes: object) -> None:
        self.behaviour = replace(self.behaviour, **changes)  # type: ignore[arg-type]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/health", self.health)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/_stats", self.stats_view)
        app.router.add_post("/_behave", self.behave_view)
        return app

    async def behave_view(self, request: web.Request) -> web.Response:
        """Change the behaviour of a server running in another process (the load and fault benches)."""
        changes = await request.json()
        unknown = set(changes) - set(Behaviour.__dataclass_fields__)
        if unknown:
            return web.json_response({"error": f"unknown fields {sorted(unknown)}"}, status=400)
        self.behave(**changes)
        return web.json_response({"mode": self.behaviour.mode, "latency_s": self.behaviour.latency_s})

    async def stats_view(self, request: web.Request) -> web.Response:
        s = self.stats
        snapshot = {"requests": s.requests, "in_flight": s.in_flight, "max_in_flight": s.max_in_flight}
        if request.query.get("reset"):
            s.max_in_flight = s.in_flight  # the peak of the next interval, not of the whole run
        return web.json_response(snapshot)

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(status=200 if self.behaviour.healthy else 503)

    async def models(self, request: web.Request) -> web.Response:
        if not self.behaviour.healthy:
            return web.Response(status=503)
        return web.json_response({"object": "list", "data": [{"id": self.behaviour.model, "object": "model"}]})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        b = self.behaviour
        body = await request.json()
        self.stats.requests += 1
        if request.transport is not None:
            self.stats.peers.add(tuple(request.transport.get_extra_info("peername") or ()))
        if self.record_bodies:
            self.stats.bodies.append(body)
        self.stats.in_flight += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        try:
            return await self._chat(request, b, body)
        finally:
            self.stats.in_flight -= 1

    async def _chat(self, request: web.Request, b: Behaviour, body: dict) -> web.StreamResponse:
        if b.mode == "hang":
            await asyncio.sleep(3600)
        if b.mode == "error":
            return web.json_response({"error": {"message": "overloaded", "code": b.status}}, status=b.status)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        model = body.get("model", b.model)
        await response.write(_chunk(model, {"role": "assistant", "content": ""}))
        if b.latency_s:
            await asyncio.sleep(b.latency_s)
        deltas: list[dict] = []
        if b.mode in ("reasoning_content", "reasoning", "only_reasoning"):
            name = "reasoning" if b.mode == "reasoning" else "reasoning_content"
            deltas += [{name: p} for p in _pieces(b.thought)]
        if b.mode == "think_tags":
            deltas += [{"content": p} for p in _pieces(f"<think>\n{b.thought}\n</think>\n\n")]
        if b.mode in ("bare_think", "unterminated"):
            deltas += [{"content": p} for p in _pieces(f"{b.thought}\n")]
        if b.mode == "bare_think":
            deltas.append({"content": "</think>\n\n"})
        if b.mode not in ("only_reasoning", "unterminated"):
            deltas += [{"content": p} for p in _pieces(b.answer)]
        for i, delta in enumerate(deltas):
            await response.write(_chunk(model, delta))
            if b.mode == "stall" and i == 0:
                await asyncio.sleep(3600)
            if b.chunk_delay_s:
                await asyncio.sleep(b.chunk_delay_s)
        if b.mode == "broken":
            return response
        finish = "length" if b.mode in ("unterminated", "cut") else "stop"
        await response.write(_chunk(model, {}, finish))
        usage = {"prompt_tokens": 42, "completion_tokens": len(deltas), "total_tokens": 42 + len(deltas)}
        event = {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "model": model,
            "choices": [],
            "usage": usage,
        }
        await response.write(f"data: {json.dumps(event)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    # Running in a background thread (tests) ------------------------------------------------------

    def start(self) -> "OpenAIServer":
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name=f"openai-server-{id(self)}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the test OpenAI server did not start")
        return self

    async def _start(self, port: int = 0) -> None:
        self._runner = web.AppRunner(self.app(), shutdown_timeout=0.1, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, backlog=4096, ssl_context=self.ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--mode", default="content")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between streamed chunks")
    parser.add_argument("--answer", default=Behaviour.answer)
    args = parser.parse_args()
    behaviour = Behaviour(mode=args.mode, latency_s=args.latency, chunk_delay_s=args.chunk_delay, answer=args.answer)
    server = OpenAIServer(behaviour, record_bodies=False)

    async def run() -> None:
        await server._start(args.port)
        print(server.port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
