"""A shop's own order system, as a separate process, for tests/connectors, the e2e test and bench/connectors.py.

It speaks the desk's connector protocol (apps/connectors/models.py default_operations) and checks what a
real shop should: the HMAC-SHA256 signature of timestamp, nonce and body, a timestamp within 300 s, and
no nonce twice (401 otherwise). Orders are bound to customer identities ("<channel>:<external id>");
an order asked for by number comes back whoever asks (the desk must refuse it), by customer only theirs.

Control (no signature, loopback only): POST /_control/orders {"orders": [...]} adds orders,
POST /_control/mode {"mode": "ok"|"down"|"slow"|"malformed", "latency_ms": 100}, GET /_control/stats.
Run: python -m peers.fake_shop --port 8765 --secret s3cret
"""

import argparse
import hashlib
import hmac
import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

WINDOW_S = 300
DEMO_ORDERS: list[dict[str, Any]] = [
    {
        "order_no": "E20261127001",
        "buyer_id": "simulator:demo",
        "phone_tail": "8899",
        "status": "已发货",
        "title": "羊毛围巾 灰色",
        "created_at": "2026-11-27 10:02",
        "logistics": {"company": "顺丰速运", "tracking_no": "SF1402938475610", "eta": "11月29日"},
        "events": [
            {"time": "2026-11-27 18:30", "desc": "快件已从【杭州转运中心】发出"},
            {"time": "2026-11-28 07:15", "desc": "快件已到达【上海浦东集散中心】"},
        ],
    },
]


class Shop:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.orders: dict[str, dict[str, Any]] = {o["order_no"]: o for o in DEMO_ORDERS}
        self.mode = "ok"
        self.latency_ms = 0
        self.nonces: set[str] = set()
        self.lock = threading.Lock()
        self.stats = {"requests": 0, "bad_signature": 0, "replayed_nonce": 0, "stale": 0, "after_sales": 0}

    def verify(self, headers: Any, body: bytes) -> str:
        timestamp, nonce = headers.get("X-Desk-Timestamp", ""), headers.get("X-Desk-Nonce", "")
        signature = headers.get("X-Desk-Signature", "")
        expected = hmac.new(self.secret.encode(), f"{timestamp}\n{nonce}\n".encode() + body, hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), signature):
            return "bad_signature"
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > WINDOW_S:
            return "stale"
        with self.lock:
            if nonce in self.nonces:
                return "replayed_nonce"
            self.nonces.add(nonce)
        return ""

    def answer(self, path: str, ask: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(str(ask.get("order_no", "")))
        if path == "/desk/orders/lookup":
            return {"code": 0, "data": {"order": _public(order) if order else None}}
        if path == "/desk/orders/by-customer":
            mine = [_public(o) for o in self.orders.values() if o["buyer_id"] == ask.get("customer")]
            return {"code": 0, "data": {"orders": sorted(mine, key=lambda o: o["created_at"], reverse=True)}}
        if path == "/desk/orders/trail":
            return {"code": 0, "data": {"events": order["events"] if order else []}}
        if path == "/desk/after-sales":
            if not order or order["buyer_id"] != ask.get("customer"):
                return {"code": 404, "message": "no such order for this customer"}
            self.stats["after_sales"] += 1
            return {"code": 0, "data": {"request_id": f"AS{order['order_no'][-6:]}{self.stats['after_sales']:03d}"}}
        return {"code": 404, "message": "unknown path"}


def _public(order: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in order.items() if key != "events"}


def handler_for(shop: Shop) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body leave in two writes: without this, Nagle + delayed ACK add ~40 ms a reply.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            if self.path == "/_control/stats":
                self._send(200, json.dumps({**shop.stats, "mode": shop.mode}).encode())
            else:
                self._send(404, b"{}")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/_control/"):
                ask = json.loads(body or b"{}")
                if self.path == "/_control/orders":
                    for order in ask.get("orders", []):
                        shop.orders[order["order_no"]] = {"events": [], **order}
                elif self.path == "/_control/mode":
                    shop.mode, shop.latency_ms = ask.get("mode", "ok"), int(ask.get("latency_ms", 0))
                self._send(200, b"{}")
                return
            shop.stats["requests"] += 1
            refused = shop.verify(self.headers, body)
            if refused:
                shop.stats[refused] += 1
                self._send(401, json.dumps({"code": 401, "message": refused}).encode())
                return
            if shop.mode == "down":
                self._send(503, b'{"code": 503}')
                return
            time.sleep((shop.latency_ms if shop.mode in ("ok", "slow") else 0) / 1000)
            if shop.mode == "malformed":
                self._send(200, b'{"code": 0, "data": {"order": "<html>oops')
                return
            self._send(200, json.dumps(shop.answer(self.path, json.loads(body or b"{}")), ensure_ascii=False).encode())

    return Handler


class FakeShopProcess:
    """The fake shop in its own process, for tests and benchmarks."""

    def __init__(self, *, port: int, secret: str) -> None:
        self.url, self.secret = f"http://127.0.0.1:{port}", secret
        args = [sys.executable, "-m", "peers.fake_shop", "--port", str(port), "--secret", secret]
        root = Path(__file__).resolve().parents[1]
        self.popen = subprocess.Popen(  # noqa: S603 (our own interpreter and module, fixed arguments)
            args, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/_control/stats", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the fake shop did not start")

    def control(self, what: str, payload: dict[str, Any]) -> None:
        httpx.post(f"{self.url}/_control/{what}", json=payload, timeout=5).raise_for_status()

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.url}/_control/stats", timeout=5).json()
        return data

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--secret", default="shop-secret")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(Shop(args.secret)))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
