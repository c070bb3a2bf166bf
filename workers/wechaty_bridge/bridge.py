"""The bridge process: one WeChat account, through the Wechaty SDK, to the desk and back.

Four loops share one event loop:
- supervise: connect the SDK to the puppet service, run its event stream, and reconnect with
  backoff when it ends, fails, or goes silent. The SDK's own ``Wechaty.start()`` is not used:
  on a network error it sleeps 60 s and recurses, and on a puppet error it stops the whole
  event loop. The bridge calls the same steps (init_puppet, init_puppet_event_bridge,
  puppet.start) and owns the policy instead; every connection gets a fresh ``Wechaty``.
- forward (receiving.py): inbound messages, files included, wait in Redis until the desk
  accepted them (idempotent on the Wechaty message id), so neither a desk outage nor a bridge
  restart loses one.
- send (sending.py): replies the desk queued in the outbox stream are sent while logged in,
  and acknowledged only once every part went out; a part already sent is never resent.
- heartbeat: a Redis key the desk checks before queueing, plus the /healthz and /metrics state.
"""

import asyncio
import contextlib
import logging
import random
import signal
import time
from typing import Any

import httpx
from redis.exceptions import RedisError

from workers.wechaty_bridge.app_client import AppClient
from workers.wechaty_bridge.config import BridgeConfig
from workers.wechaty_bridge.health import Metrics, http_handler
from workers.wechaty_bridge.receiving import Receiving
from workers.wechaty_bridge.sdk import TokenRedactor, free_port
from workers.wechaty_bridge.sending import Sending
from workers.wechaty_bridge.store import Store

log = logging.getLogger("wechaty_bridge")


class Bridge(Receiving, Sending):
    def __init__(self, config: BridgeConfig, wechaty: Any) -> None:
        self.config = config
        self.wx = wechaty
        self.metrics = Metrics()
        self.store = Store(url=config.redis_url, bridge=config.name)
        self.app = AppClient(
            base_url=config.app_url,
            token=config.app_token,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            host=config.app_host,
            assume_https=config.app_assume_https,
            media_timeout=config.media_timeout,
        )
        # Files a puppet hands over as a URL (its CDN), downloaded with a size limit (media.py).
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(config.media_timeout, connect=config.connect_timeout))
        self.bot: Any = None
        self.self_names: tuple[str, ...] = ()
        self.logged_in = asyncio.Event()
        self.stopping = asyncio.Event()
        puppet_log = logging.getLogger("PuppetService")
        # It warns on every connect that both token and endpoint are set (printing the token).
        puppet_log.setLevel(logging.ERROR)
        puppet_log.addFilter(TokenRedactor(config.puppet_token))
        # FileBox warns that ``mimeType`` is deprecated each time a box is serialised, even by the SDK.
        logging.getLogger("FileBox").setLevel(logging.ERROR)

    # --- lifecycle ---------------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        server = await asyncio.start_server(
            http_handler(self.metrics), self.config.health_host, self.config.health_port
        )
        await self.store.outbox_prepare()
        recovered = await self.store.inbox_recover()
        if recovered:
            log.warning("re-queued %d inbound messages a previous run had not forwarded", recovered)
        tasks = [
            asyncio.create_task(self._supervise(), name="supervise"),
            asyncio.create_task(self._forward_loop(), name="forward"),
            asyncio.create_task(self._send_loop(), name="send"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
        ]
        log.info("bridge %r started; health on %s:%s", self.config.name, *server.sockets[0].getsockname()[:2])
        await self.stopping.wait()
        log.info("bridge stopping")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.bot is not None:
            try:
                await asyncio.wait_for(self.bot.stop(), timeout=5)
            except Exception:
                log.info("puppet did not stop cleanly")
        server.close()
        await self.app.close()
        await self.http.aclose()
        await self.store.close()

    # --- supervise: one SDK connection at a time, reconnecting with backoff ------------------
    async def _supervise(self) -> None:
        attempt = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            reason, had_login = await self._connect_once()
            self._disconnected()
            if self.stopping.is_set():
                return
            if had_login or time.monotonic() - started > self.config.reconnect_max:
                attempt = 0
            delay = min(self.config.reconnect_max, self.config.reconnect_min * 2**attempt)
            delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security
            attempt += 1
            self.metrics.count("reconnects")
            log.warning("puppet connection ended (%s); reconnecting in %.1fs", reason, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=delay)

    def _new_bot(self) -> Any:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from wechaty_puppet import PuppetOptions

        options = self.wx.WechatyOptions(
            puppet="wechaty-puppet-service",
            puppet_options=PuppetOptions(token=self.config.puppet_token, end_point=self.config.puppet_endpoint),
            # The SDK's plugin web server is never started (no plugins), but the SDK refuses to
            # log in if its port is taken; an unused port keeps it out of the way.
            host="127.0.0.1",
            port=free_port(),
            # In memory: the SDK's default job store is a SQLite file in the working directory.
            scheduler=AsyncIOScheduler(),
        )
        bot = self.wx.Wechaty(options)
        bot.on("login", self._on_login)
        bot.on("logout", self._on_logout)
        bot.on("message", self._on_message)
        bot.on("scan", self._on_scan)
        return bot

    async def _connect_once(self) -> tuple[str, bool]:
        from wechaty.utils.async_helper import SingleIdContainer

        # The SDK drops message ids it has seen in this process, even ones whose handling
        # failed halfway; after a reconnect the puppet's redelivery must get through (the
        # desk is idempotent on the id, so a true duplicate is still answered once).
        SingleIdContainer._instance = None
        bot = self._new_bot()
        self.bot = bot
        self.metrics.last_event_at = time.time()
        self.metrics.count("connects")
        stream: asyncio.Task[None] | None = None
        watchdog: asyncio.Task[None] | None = None
        logins_before = self.metrics.counters["logins"]
        try:
            await bot.init_puppet()
            await bot.init_puppet_event_bridge(bot.puppet)
            # The SDK forwards puppet heartbeats under another name ("heart-beat"), so they
            # never reach the bot; listen on the puppet itself.
            bot.puppet.on("heartbeat", self._on_alive)
            bot.puppet.on("dong", self._on_alive)
            self.metrics.connected_since = time.time()
            # PuppetService.start() calls Start, then runs the event stream until it ends.
            stream = asyncio.create_task(bot.puppet.start(), name="puppet-stream")
            watchdog = asyncio.create_task(self._watchdog(bot, stream), name="watchdog")
            await asyncio.wait({stream})
            if stream.cancelled():
                reason = "no event from the puppet for too long"
            elif stream.exception() is not None:
                reason = repr(stream.exception())
            else:
                reason = "event stream ended"
        except asyncio.CancelledError:
            if stream is not None:
                stream.cancel()
            raise
        except Exception as exc:
            reason = repr(exc)
        finally:
            if watchdog is not None:
                watchdog.cancel()
            if stream is not None:
                # Closing the channel ends a stream still running with an error nobody awaits.
                stream.add_done_callback(lambda task: task.cancelled() or task.exception())
            self._close_channel(bot)
        return reason, self.metrics.counters["logins"] > logins_before

    @staticmethod
    def _close_channel(bot: Any) -> None:
        # Not bot.stop(): that sends a Stop RPC, which hangs on a dead connection; the next
        # PuppetService.start() sends Stop then Start anyway.
        puppet = bot._puppet
        if puppet is None:
            return
        puppet._event_stream.remove_all_listeners()
        if puppet.channel is not None:
            puppet.channel.close()
            puppet.channel = None

    async def _watchdog(self, bot: Any, stream: "asyncio.Task[None]") -> None:
        last_ding = time.monotonic()
        while not stream.done():
            await asyncio.sleep(min(1.0, self.config.ding_every))
            silent_for = time.time() - (self.metrics.last_event_at or 0)
            if silent_for > self.config.stale_after:
                log.warning("no event from the puppet for %.0fs; dropping the connection", silent_for)
                stream.cancel()
                return
            if self.logged_in.is_set() and time.monotonic() - last_ding >= self.config.ding_every:
                last_ding = time.monotonic()
                try:
                    # The puppet answers with a "dong" event, which proves the stream is alive.
                    await asyncio.wait_for(bot.puppet.ding("desk"), timeout=self.config.send_timeout)
                except Exception as exc:
                    log.info("ding failed: %r", exc)

    def _disconnected(self) -> None:
        self.logged_in.clear()
        self.metrics.logged_in = False
        self.metrics.connected_since = None

    # --- SDK events --------------------------------------------------------------------------
    def _on_alive(self, _payload: Any = None) -> None:
        self.metrics.last_event_at = time.time()
        self.metrics.count("events:alive")

    async def _on_scan(self, qr_code: str, status: Any, _data: Any = None) -> None:
        self.metrics.last_event_at = time.time()
        # The login QR code is a credential: logged here only, never sent to a QR web service.
        log.warning("not logged in (%s): scan this QR payload with the account's phone: %s", status, qr_code)

    async def _on_login(self, contact: Any) -> None:
        self.metrics.last_event_at = time.time()
        self.self_names = tuple(name for name in (contact.name,) if name)
        self.metrics.self_id = contact.contact_id
        self.metrics.logged_in = True
        self.metrics.count("logins")
        self.logged_in.set()
        log.info("logged in as %s", contact.contact_id)

    async def _on_logout(self, contact: Any) -> None:
        log.warning("logged out (%s)", getattr(contact, "contact_id", "?"))
        self.logged_in.clear()
        self.metrics.logged_in = False

    async def _on_message(self, msg: Any) -> None:
        self.metrics.last_event_at = time.time()
        self.metrics.count("events:message")
        try:
            await self._handle_message(msg)
        except Exception:
            self.metrics.count("handle_errors")
            log.exception("message %s could not be handled", getattr(msg, "message_id", "?"))

    # --- heartbeat -----------------------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        every = self.config.heartbeat_every
        while True:
            try:
                self.metrics.inbox_depth = await self.store.inbox_depth()
                self.metrics.outbox_pending = await self.store.outbox_pending()
                await self.store.heartbeat(self.metrics.state(), ttl=every * 3)
            except RedisError as exc:
                log.warning("heartbeat not written: %r", exc)
            await asyncio.sleep(every)
