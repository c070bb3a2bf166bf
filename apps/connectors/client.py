"""The one place that talks HTTP to a shop: the generic, no-code connector (kind "http").

Each request is a signed JSON POST: ``X-Desk-Timestamp`` (Unix seconds), ``X-Desk-Nonce`` (random,
never reused) and ``X-Desk-Signature`` = hex HMAC-SHA256(secret, "<timestamp>\\n<nonce>\\n" + body).
The shop should refuse a timestamp more than 5 minutes off and a nonce it has seen. Every call is
bounded by the row's connect and total timeouts; failures become ``ConnectorError`` with a kind.
"""

import hashlib
import hmac
import json
import secrets
import threading
import time
from typing import Any

import httpx

from apps.connectors.models import Connector
from apps.connectors.types import ConnectorError, Order, Shopper, TrailEvent

_local = threading.local()


def _http() -> httpx.Client:
    # One pooled client per thread: keep-alive to the shop without sharing a client across threads.
    client: httpx.Client | None = getattr(_local, "client", None)
    if client is None:
        client = httpx.Client(trust_env=False, limits=httpx.Limits(max_connections=20))
        _local.client = client
    return client


def signature(*, secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = f"{timestamp}\n{nonce}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _render(template: Any, values: dict[str, str]) -> Any:
    # Whole-string substitution only: a value never changes the JSON's structure.
    if isinstance(template, dict):
        return {key: _render(item, values) for key, item in template.items()}
    if isinstance(template, list):
        return [_render(item, values) for item in template]
    if isinstance(template, str) and template.startswith("{") and template.endswith("}"):
        return values.get(template[1:-1], template)
    return template


def _dig(data: Any, path: str) -> Any:
    for part in path.split(".") if path else []:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    raise ConnectorError("a mapped field is not text", kind="malformed")


class HttpConnector:
    def __init__(self, *, connector: Connector) -> None:
        self.row = connector

    def _operation(self, name: str) -> dict[str, Any]:
        operation = (self.row.operations or {}).get(name)
        if not isinstance(operation, dict) or not isinstance(operation.get("fields"), dict):
            raise ConnectorError(f"operation {name} is not configured", kind="refused")
        return operation

    def call(self, name: str, values: dict[str, str]) -> tuple[Any, dict[str, str]]:
        operation = self._operation(name)
        body = json.dumps(_render(operation.get("body", {}), values), ensure_ascii=False).encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        headers = {
            "Content-Type": "application/json",
            "X-Desk-Timestamp": timestamp,
            "X-Desk-Nonce": nonce,
            "X-Desk-Signature": signature(secret=self.row.secret or "", timestamp=timestamp, nonce=nonce, body=body),
        }
        url = self.row.base_url.rstrip("/") + str(operation.get("path", ""))
        timeout = httpx.Timeout(self.row.timeout_s, connect=self.row.connect_timeout_s)
        deadline = time.monotonic() + self.row.timeout_s
        try:
            with _http().stream("POST", url, content=body, headers=headers, timeout=timeout) as response:
                chunks = []
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    if time.monotonic() > deadline:  # a shop trickling bytes still answers in time or not at all
                        raise ConnectorError("the shop answered too slowly", kind="timeout")
                raw = b"".join(chunks)
        except httpx.TimeoutException as exc:
            raise ConnectorError(f"timeout: {type(exc).__name__}", kind="timeout") from exc
        except httpx.HTTPError as exc:
            raise ConnectorError(f"unreachable: {type(exc).__name__}", kind="down") from exc
        if response.status_code >= 500:
            raise ConnectorError(f"HTTP {response.status_code}", kind="down")
        if response.status_code >= 400:
            raise ConnectorError(f"HTTP {response.status_code}", kind="refused")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ConnectorError("the answer is not JSON", kind="malformed") from exc
        if not isinstance(data, dict):
            raise ConnectorError("the answer is not a JSON object", kind="malformed")
        if data.get("code", 0) not in (0, "0"):
            raise ConnectorError(f"shop error code {_text(data.get('code'))[:20]}", kind="refused")
        return data, operation["fields"]

    def _order(self, item: Any, fields: dict[str, str]) -> Order:
        if not isinstance(item, dict):
            raise ConnectorError("an order is not an object", kind="malformed")
        mapped = {name: _text(_dig(item, path)) for name, path in fields.items() if name not in ("root", "list")}
        if not mapped.get("order_no") or not mapped.get("status"):
            raise ConnectorError("an order has no number or status", kind="malformed")
        return Order(
            order_no=mapped["order_no"],
            status=mapped["status"],
            owner=mapped.get("owner", ""),
            phone_last4=mapped.get("phone_last4", ""),
            title=mapped.get("title", ""),
            carrier=mapped.get("carrier", ""),
            tracking_no=mapped.get("tracking_no", ""),
            eta=mapped.get("eta", ""),
            placed_at=mapped.get("placed_at", ""),
        )

    def order(self, *, order_no: str, shopper: Shopper) -> Order | None:
        data, fields = self.call("order", self._values(shopper, order_no=order_no))
        item = _dig(data, fields.get("root", ""))
        return None if item is None else self._order(item, fields)

    def orders(self, *, shopper: Shopper) -> list[Order]:
        data, fields = self.call("orders", self._values(shopper))
        items = _dig(data, fields.get("list", ""))
        if items is None:
            return []
        if not isinstance(items, list):
            raise ConnectorError("the orders are not a list", kind="malformed")
        return [self._order(item, fields) for item in items]

    def trail(self, *, order_no: str, shopper: Shopper) -> list[TrailEvent]:
        data, fields = self.call("trail", self._values(shopper, order_no=order_no))
        items = _dig(data, fields.get("list", ""))
        if items is None:
            return []
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ConnectorError("the trail is not a list of events", kind="malformed")
        events = [
            TrailEvent(
                time=_text(_dig(item, fields.get("time", "time"))), text=_text(_dig(item, fields.get("text", "")))
            )
            for item in items
        ]
        return sorted(events, key=lambda event: event.time, reverse=True)

    def after_sale_create(self, *, order_no: str, shopper: Shopper, reason: str) -> str:
        data, fields = self.call("after_sale", {**self._values(shopper, order_no=order_no), "reason": reason})
        request_id = _text(_dig(data, fields.get("id", "")))
        if not request_id:
            raise ConnectorError("no after-sales request id", kind="malformed")
        return request_id

    @staticmethod
    def _values(shopper: Shopper, *, order_no: str = "") -> dict[str, str]:
        return {"order_no": order_no, "customer": shopper.identity, "phone_last4": shopper.phone_last4}
