"""WeChat's side of Official Account callbacks, with its rules, for the tests and the webhook bench.

A callback is signed (and in safe mode encrypted) with wechatpy, an implementation independent of
the desk's. WeChat waits ``timeout_s`` (5 s) for the response; with none in time it sends the same
MsgId again, ``tries`` (3) times in all, and a response that comes after its try was dropped is
ignored. A response that came in time is read as WeChat reads it: "success" or an empty body is no
reply; anything else must be a passive reply: text XML addressed to the customer from the account's
original id, at most 2048 bytes of content, and in safe mode encrypted for this AppID with a valid
msg_signature. Every try is recorded, so a test can say which try carried which reply.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import WeChatSigner

MAX_CONTENT_BYTES = 2048


@dataclass
class Try:
    number: int
    at_s: float  # when it was sent, seconds after the first try
    elapsed_s: float  # until the response, or until WeChat gave up on it
    status: int | None  # None: no response within the timeout (WeChat tries again)
    reply: str | None = None  # the passive reply's text, if the response carried one
    error: str = ""  # why WeChat would not accept the response (it shows the customer an error)


@dataclass
class Delivery:
    """One customer message as WeChat saw it: every try and what came back."""

    msg_id: str
    tries: list[Try] = field(default_factory=list)

    @property
    def answered(self) -> Try | None:
        """The try whose response WeChat took (the last one sent, if any came back in time)."""
        last = self.tries[-1] if self.tries else None
        return last if last is not None and last.status is not None else None

    @property
    def reply(self) -> str | None:
        return self.answered.reply if self.answered else None

    @property
    def errors(self) -> list[str]:
        return [attempt.error for attempt in self.tries if attempt.error]


def _sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


@dataclass
class OaCallbackPeer:
    base_url: str
    app_id: str
    token: str
    aes_key: str = ""
    account_user: str = "gh_peer0000001"  # the account's original id: ToUserName of every callback
    timeout_s: float = 5.0
    tries: int = 3

    def _request(self, xml: str, *, aes: bool) -> tuple[str, str]:
        timestamp, nonce = str(int(time.time())), str(time.monotonic_ns())[-10:]
        query = {"signature": _sign(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
        body = xml
        if aes:
            crypto = WeChatCrypto(self.token, self.aes_key, self.app_id)
            envelope = xmltodict.parse(crypto.encrypt_message(xml, nonce, timestamp))["xml"]
            query |= {"encrypt_type": "aes", "msg_signature": envelope["MsgSignature"]}
            encrypted = envelope["Encrypt"]
            body = f"<xml><ToUserName><![CDATA[{self.account_user}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"  # noqa: E501
        return f"/wechat/oa/{self.app_id}/?{urlencode(query)}", body

    def text_xml(self, *, openid: str, msg_id: str, content: str, create_time: int | None = None) -> str:
        return (
            f"<xml><ToUserName><![CDATA[{self.account_user}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
        )

    async def message(
        self, client: httpx.AsyncClient, *, openid: str, msg_id: str, content: str, aes: bool = False
    ) -> Delivery:
        """Send one customer message as WeChat does: try, wait, try again with the same MsgId."""
        xml = self.text_xml(openid=openid, msg_id=msg_id, content=content)
        return await self.deliver(client, xml=xml, openid=openid, msg_id=msg_id, aes=aes)

    async def deliver(self, client: httpx.AsyncClient, *, xml: str, openid: str, msg_id: str, aes: bool) -> Delivery:
        delivery = Delivery(msg_id=msg_id)
        first = time.monotonic()
        for number in range(1, self.tries + 1):
            path, body = self._request(xml, aes=aes)
            started = time.monotonic()
            attempt = Try(number=number, at_s=started - first, elapsed_s=0.0, status=None)
            delivery.tries.append(attempt)
            try:
                # WeChat's limit is on the whole exchange, not on each socket operation as httpx's is.
                response = await asyncio.wait_for(
                    client.post(path, content=body.encode(), headers={"Content-Type": "text/xml"}, timeout=None),
                    timeout=self.timeout_s,
                )
            except (TimeoutError, httpx.TimeoutException):
                attempt.elapsed_s = time.monotonic() - started
                continue  # dropped: whatever the desk answers later is ignored
            except httpx.TransportError as exc:
                attempt.elapsed_s, attempt.error = time.monotonic() - started, f"{type(exc).__name__}"
                continue
            attempt.elapsed_s, attempt.status = time.monotonic() - started, response.status_code
            if response.status_code >= 500:
                attempt.error = f"HTTP {response.status_code}"
                continue
            self._read(attempt, response, openid=openid, aes=aes)
            return delivery
        return delivery

    def _read(self, attempt: Try, response: httpx.Response, *, openid: str, aes: bool) -> None:
        text = response.text
        if response.status_code != 200:
            attempt.error = f"HTTP {response.status_code}"
            return
        if text in ("", "success"):
            return
        try:
            fields = xmltodict.parse(text)["xml"]
            if aes:
                crypto = WeChatCrypto(self.token, self.aes_key, self.app_id)
                plain = crypto.decrypt_message(text, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"])
                fields = xmltodict.parse(plain)["xml"]
        except (InvalidSignatureException, InvalidAppIdException) as exc:
            attempt.error = f"encrypted reply refused: {type(exc).__name__}"
            return
        except Exception as exc:  # anything unreadable is an error WeChat shows the customer
            attempt.error = f"unreadable reply: {type(exc).__name__}: {text[:120]}"
            return
        content = fields.get("Content") or ""
        problems = [
            "ToUserName is not the customer" if fields.get("ToUserName") != openid else "",
            "FromUserName is not the account" if fields.get("FromUserName") != self.account_user else "",
            "MsgType is not text" if fields.get("MsgType") != "text" else "",
            "CreateTime is not a number" if not str(fields.get("CreateTime", "")).isdigit() else "",
            "Content is empty" if not content else "",
            "Content is too long" if len(content.encode()) > MAX_CONTENT_BYTES else "",
        ]
        attempt.error = "; ".join(problem for problem in problems if problem)
        attempt.reply = content
