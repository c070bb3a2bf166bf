"""Choose an endpoint, call it, fail over once, feed the breaker. Runs on the runner's event loop."""

import asyncio
import random
import time

import aiohttp

from apps.llm import client
from apps.llm.breaker import Breaker
from apps.llm.types import ChatRequest, Completion, EndpointConfig, EndpointError, NoEndpointAvailable

_ATTEMPTS = 2  # the first endpoint, then once on another


class EndpointPool:
    def __init__(self, *, http: aiohttp.ClientSession, breaker: Breaker) -> None:
        self.http = http
        self.breaker = breaker
        # Per-process cap on requests in flight to one endpoint (the breaker is shared, this is not).
        self._slots: dict[int, tuple[int, asyncio.Semaphore]] = {}

    async def complete(self, *, endpoints: list[EndpointConfig], request: ChatRequest) -> Completion:
        tried: list[EndpointConfig] = []
        failures: list[str] = []
        faulted = False  # an endpoint was to blame at least once: an outage, which may end in seconds
        started = time.monotonic()
        for _ in range(_ATTEMPTS):
            endpoint = await self._choose(endpoints, exclude={e.id for e in tried})
            if endpoint is None and tried and failures and failures[-1].endswith("empty answer"):
                endpoint = tried[-1]  # a blank answer is the sampler's bad luck, not the server's: ask again
            if endpoint is None:
                break
            tried.append(endpoint)
            try:
                completion = await self._call(endpoint, request)
            except EndpointError as exc:
                failures.append(str(exc))
                if not exc.counts:
                    # Asking again later would be refused again: not worth the customer's wait.
                    raise NoEndpointAvailable(f"request refused: {exc}", retryable=False) from exc
                faulted = True
                await self.breaker.record_failure(endpoint.id)
                continue
            await self.breaker.record_success(endpoint.id)
            if completion.text:
                completion.extra.update(attempts=len(tried), failures=failures, pool_ms=_ms(started))
                return completion
            failures.append(f"{endpoint.name}: empty answer")
        if not tried:
            raise NoEndpointAvailable("every endpoint is disabled or cooling down")
        # Only empty answers: the endpoints are up and were asked twice already; waiting fixes nothing.
        raise NoEndpointAvailable("; ".join(failures), retryable=faulted)

    async def _choose(self, endpoints: list[EndpointConfig], *, exclude: set[int]) -> EndpointConfig | None:
        """Weighted random order among the candidates; the first one the breaker lets through."""
        candidates = [e for e in endpoints if e.id not in exclude and e.weight > 0]
        # Efraimidis-Spirakis: sorting by u**(1/w) gives a weighted random permutation in one pass.
        candidates.sort(key=lambda e: random.random() ** (1.0 / e.weight), reverse=True)  # noqa: S311
        for endpoint in candidates:
            if await self.breaker.allow(endpoint.id, probe_ttl_s=endpoint.total_timeout_s):
                return endpoint
        return None

    async def _call(self, endpoint: EndpointConfig, request: ChatRequest) -> Completion:
        async with self._slot(endpoint):
            return await client.chat_complete(http=self.http, endpoint=endpoint, request=request)

    def _slot(self, endpoint: EndpointConfig) -> asyncio.Semaphore:
        entry = self._slots.get(endpoint.id)
        if entry is None or entry[0] != endpoint.max_concurrency:
            # An admin changed the cap: new calls use the new size, calls in flight finish on the old one.
            entry = (endpoint.max_concurrency, asyncio.Semaphore(max(1, endpoint.max_concurrency)))
            self._slots[endpoint.id] = entry
        return entry[1]


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
