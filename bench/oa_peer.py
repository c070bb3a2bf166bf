"""WeChat's side of an Official Account, for the fault bench: callbacks signed and encrypted by
wechatpy (an independent implementation of the protocol), every one delivered three times the way
WeChat retries an ack it did not get in time, and a fake API server that takes the custom-send
replies and counts them per customer."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from peers.fake_wechat import FakeWeChat, serve

APP_ID = "wxfault000000001"
TOKEN = "fault-bench-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
RETRY_DELAYS_S = (0.0, 0.0, 1.0)  # two copies race each other, a third comes a second later


def start_fake_wechat() -> FakeWeChat:
    fake = FakeWeChat()
    # WeChat only takes messages from an account's followers: every openid the bench invents follows.
    fake.users.follow_everyone = True
    serve(fake)
    return fake


def _run_number(prefix: str) -> str:
    # WeChat's MsgId is a 64-bit integer: derive a numeric run id from the bench's hex prefix.
    return str(int(prefix[1:], 16))


def key_prefix(prefix: str) -> str:
    """The channel_message_id prefix the desk stores for this run's callbacks."""
    return f"{APP_ID}:{_run_number(prefix)}"


def _sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def _callback(openid: str, msg_id: str, text: str) -> tuple[str, bytes]:
    """Query string and body of one safe-mode callback, as WeChat's servers build them."""
    timestamp, nonce = str(int(time.time())), msg_id[-9:]
    xml = (
        f"<xml><ToUserName><![CDATA[gh_fault]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
    envelope = xmltodict.parse(WeChatCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(xml, nonce, timestamp))["xml"]
    query = {
        "signature": _sign(TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": openid,
        "encrypt_type": "aes",
        "msg_signature": envelope["MsgSignature"],
    }
    encrypted = envelope["Encrypt"]
    body = f"<xml><ToUserName><![CDATA[gh_fault]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return urlencode(query), body.encode()


async def send_all(
    base_url: str,
    fake: FakeWeChat,
    *,
    prefix: str,
    messages: int,
    rate: float,
    customers: int,
    then: Callable[[], None],
    copies: tuple[float, ...] = RETRY_DELAYS_S,
    retries: int = 0,
    connected: Callable[[], None] | None = None,
    customers_of: str = "",
) -> Callback:
    """Send every callback once per delay in ``copies``, open-loop at ``rate``; then wait with ``then``.

    ``retries``: send a copy again when it is not acked with "success" within 5 s, as WeChat does.
    ``customers_of``: the prefix of an earlier run whose customers write again (returning customers);
    by default this run's customers are new.
    """
    run = _run_number(prefix)
    customer_run = _run_number(customers_of) if customers_of else run
    result = Callback()

    async def deliver(session: aiohttp.ClientSession, query: str, body: bytes, delay: float) -> None:
        await asyncio.sleep(delay)
        # WeChat drops a callback not acked within 5 s and sends it again, three times in all.
        for attempt in range(1 + retries):
            started = time.perf_counter()
            try:
                async with session.post(f"/wechat/oa/{APP_ID}/?{query}", data=body,
                                        headers={"Content-Type": "text/xml"}) as response:  # fmt: skip
                    text = await response.text()
                ok = response.status == 200 and text == "success"
                result.acks["success" if ok else f"HTTP {response.status}"] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                ok = False
                result.acks[type(exc).__name__] += 1
            result.ack_ms.append((time.perf_counter() - started) * 1000)
            if ok:
                return
            if attempt < retries:
                result.retried += 1
        result.given_up += 1

    limits = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(base_url, connector=limits, timeout=aiohttp.ClientTimeout(5)) as session:
        if connected is not None:
            connected()
        start, tasks = time.perf_counter(), []
        for index in range(messages):
            await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()))
            openid = f"o{customer_run}{index % customers:05d}"
            msg_id = f"{run}{index:06d}"
            key = f"{APP_ID}:{msg_id}"
            result.senders[key] = openid
            result.sent_at[key] = time.time()
            fake.user_wrote(openid)  # WeChat opens the 48 h reply window when the customer writes
            query, body = _callback(openid, msg_id, f"你好，我想问一下订单 {msg_id} 什么时候发货？")
            tasks += [asyncio.create_task(deliver(session, query, body, delay)) for delay in copies]
        await asyncio.gather(*tasks)
    await asyncio.to_thread(then)
    await asyncio.sleep(1.0)
    result.copies = len(copies)
    return result


@dataclass
class Callback:
    """What WeChat's side saw of a run: who sent what and when, and how the desk acked."""

    senders: dict[str, str] = field(default_factory=dict)  # channel_message_id -> openid
    sent_at: dict[str, float] = field(default_factory=dict)
    acks: Counter[str] = field(default_factory=Counter)
    ack_ms: list[float] = field(default_factory=list)
    copies: int = 1
    retried: int = 0  # copies sent again after a missing or failed ack
    given_up: int = 0  # copies WeChat would have dropped: every try failed

    def customer_view(self, fake: FakeWeChat) -> dict[str, object]:
        """Replies the customers got through custom-send; more replies than messages are duplicates."""
        expected = Counter(self.senders.values())
        received = Counter(sent.touser for sent in fake.sent if sent.api == "custom")
        duplicates = sum(max(0, received[user] - expected[user]) for user in received)
        return {
            "callbacks sent": self.copies * len(self.senders),
            "acks": dict(self.acks),
            "custom-send replies": sum(received.values()),
            "duplicate sends": duplicates,
        }

    def reply_delays(self, fake: FakeWeChat) -> dict[str, float]:
        """channel_message_id -> seconds from callback to the reply reaching WeChat (n-th message, n-th reply)."""
        by_user: dict[str, list[str]] = {}
        for key in sorted(self.sent_at, key=self.sent_at.__getitem__):
            by_user.setdefault(self.senders[key], []).append(key)
        replies: dict[str, list[float]] = {}
        for sent in fake.sent:
            if sent.api == "custom":
                replies.setdefault(sent.touser, []).append(sent.at)
        delays = {}
        for user, keys in by_user.items():
            for key, at in zip(keys, sorted(replies.get(user, [])), strict=False):
                delays[key] = at - self.sent_at[key]
        return delays
