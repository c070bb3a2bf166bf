"""Simulated customers on the browser-simulator channel, doing what the simulator page does.

Each customer holds the page's websocket (``/ws/simulator/<id>/``), posts messages to
``/api/simulator/messages`` with a client message id, and on every nudge reads what is new
since the last id it has shown. A post that fails (connection refused, 5xx) is sent again with
the same id, as a customer pressing "resend" (or WeChat retrying a callback) would: the desk must
store it once. What each customer saw, and when, is kept for the tally.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp


@dataclass
class Sent:
    key: str
    customer: str
    sent_at: float  # wall clock of the first attempt (same host as the desk, same clock)
    acked_at: float | None = None
    attempts: int = 0
    inbound_id: int | None = None
    last_error: str = ""


@dataclass
class Seen:
    reply_id: int
    author_kind: str
    seen_at: float


@dataclass
class Crowd:
    base_url: str
    customers: int
    prefix: str
    retry_for_s: float = 120.0
    max_connections: int = 64
    watch: bool = True
    sent: dict[str, Sent] = field(default_factory=dict)
    # inbound id -> distinct replies the customer was shown for it
    seen: dict[int, dict[int, Seen]] = field(default_factory=lambda: defaultdict(dict))
    http_errors: int = 0
    ws_reconnects: int = 0
    nudges: int = 0
    _opened: asyncio.Semaphore | None = None
    _last_id: dict[str, int] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _client: aiohttp.ClientSession | None = None
    _sockets: aiohttp.ClientSession | None = None
    _stop: asyncio.Event | None = None
    _watchers: list[asyncio.Task[None]] = field(default_factory=list)

    def customer_id(self, index: int) -> str:
        return f"{self.prefix}c{index % self.customers:05d}"

    # -- sending ------------------------------------------------------------------------------

    async def connect(self, *, watch: bool | None = None) -> None:
        """Open every customer's page: the websocket and a first resync (aiohttp: a third of httpx's CPU)."""
        connector = aiohttp.TCPConnector(limit=self.max_connections)
        self._client = aiohttp.ClientSession(self.base_url, connector=connector, timeout=aiohttp.ClientTimeout(30))
        # Websockets hold their connection for good: they get a session without a connection limit.
        self._sockets = aiohttp.ClientSession(self.base_url, connector=aiohttp.TCPConnector(limit=0))
        self._stop = asyncio.Event()
        self._opened = asyncio.Semaphore(0)
        self._watchers = []
        if self.watch if watch is None else watch:
            self._watchers = [asyncio.create_task(self._watch(self.customer_id(i))) for i in range(self.customers)]
            for _ in range(self.customers):
                await asyncio.wait_for(self._opened.acquire(), 60)

    async def close(self) -> None:
        assert self._stop is not None
        assert self._client is not None
        assert self._sockets is not None
        assert self._opened is not None
        self._stop.set()
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        await self._client.close()
        await self._sockets.close()
        self._client = None

    async def run(self, *, rate: float, messages: int) -> None:
        """Send ``messages`` open-loop at ``rate`` per second, round-robin over the customers."""
        start = time.perf_counter()
        tasks = []
        for index in range(messages):
            await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(self._send(index)))
        await asyncio.gather(*tasks)

    async def _send(self, index: int) -> None:
        assert self._client is not None
        customer = self.customer_id(index)
        key = f"{self.prefix}m{index:07d}"
        sent = self.sent[key] = Sent(key=key, customer=customer, sent_at=time.time())
        payload = {
            "customer_id": customer,
            "display_name": f"顾客{index % self.customers}",
            "client_message_id": key,
            "text": f"你好，我是第{index}位顾客，想问一下订单 {index:07d} 什么时候发货？",
        }
        deadline = time.monotonic() + self.retry_for_s
        while True:
            sent.attempts += 1
            try:
                async with self._client.post("/api/simulator/messages", json=payload) as response:
                    body = await response.read()
                if response.status in (200, 202):
                    sent.acked_at = time.time()
                    sent.inbound_id = int(json.loads(body)["message_id"])
                    return
                sent.last_error = f"HTTP {response.status} {body[:200]!r}"
                if response.status < 500:
                    self.http_errors += 1
                    return  # the desk refused the message itself: retrying would not help
            except (aiohttp.ClientError, TimeoutError) as exc:
                sent.last_error = repr(exc)[:200]
            self.http_errors += 1
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(1.0)

    # -- watching -----------------------------------------------------------------------------

    async def _watch(self, customer: str) -> None:
        """The page's websocket: every nudge (and every reconnect) resyncs from the API."""
        if not self.watch:
            return
        assert self._stop is not None
        assert self._client is not None
        assert self._sockets is not None
        assert self._opened is not None
        opened = False
        while not self._stop.is_set():
            try:
                async with self._sockets.ws_connect(
                    f"/ws/simulator/{customer}/", origin=self.base_url, autoping=False
                ) as socket:
                    await self.resync(customer)
                    if not opened:
                        opened = True
                        self._opened.release()
                    async for _ in socket:
                        self.nudges += 1
                        await self.resync(customer)
            except asyncio.CancelledError:
                raise
            except Exception:  # the page reconnects whatever went wrong
                self.ws_reconnects += 1
                await asyncio.sleep(1.0)

    async def resync(self, customer: str) -> None:
        """Read what is new since the last id shown (the page's resync); a failure leaves it for the next."""
        lock = self._locks.setdefault(customer, asyncio.Lock())
        async with lock:
            client = self._client
            if client is None:
                return
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError, KeyError):
                after = self._last_id.get(customer, 0)
                params = {"customer_id": customer, "after": str(after)}
                async with client.get("/api/simulator/messages", params=params) as response:
                    body = await response.read()
                if response.status != 200:
                    return
                now = time.time()
                for message in json.loads(body)["messages"]:
                    self._last_id[customer] = max(self._last_id.get(customer, 0), message["id"])
                    if message["direction"] == "out" and message.get("reply_to_id"):
                        replies = self.seen[message["reply_to_id"]]
                        replies.setdefault(message["id"], Seen(message["id"], message["author_kind"], now))

    async def resync_all(self) -> None:
        """What a page reload (or its periodic backstop) does for every customer."""
        await asyncio.gather(*(self.resync(self.customer_id(i)) for i in range(self.customers)))


async def drive(
    crowd: Crowd,
    *,
    rate: float,
    messages: int,
    connected: Callable[[], None] | None = None,
    until: Callable[[], None] | None = None,
    resync_at_end: bool = False,
) -> None:
    """Open the pages, send, then keep the pages open while ``until`` (run in a thread) waits for the desk.

    ``resync_at_end``: every page reads what is new once more, as its 5 s timer (or a reload) would.
    """
    await crowd.connect()
    try:
        if connected is not None:
            connected()
        await crowd.run(rate=rate, messages=messages)
        if until is not None:
            await asyncio.to_thread(until)
            await asyncio.sleep(1.0)  # the last nudges in flight
        if resync_at_end:
            await crowd.resync_all()
    finally:
        await crowd.close()
