"""Liveness and metrics over plain HTTP: GET /healthz (JSON) and GET /metrics (Prometheus text)."""

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Metrics:
    started_at: float = field(default_factory=time.time)
    logged_in: bool = False
    connected_since: float | None = None
    last_event_at: float | None = None
    self_id: str = ""
    inbox_depth: int = 0
    outbox_pending: int = 0
    counters: Counter[str] = field(default_factory=Counter)

    def count(self, name: str, amount: int = 1) -> None:
        self.counters[name] += amount

    def state(self) -> dict[str, object]:
        now = time.time()
        return {
            "status": "ok" if self.logged_in else "connecting",
            "logged_in": self.logged_in,
            "self_id": self.self_id,
            "connected_for": round(now - self.connected_since, 1) if self.connected_since else None,
            "last_event_age": round(now - self.last_event_at, 1) if self.last_event_at else None,
            "inbox_depth": self.inbox_depth,
            "outbox_pending": self.outbox_pending,
            "counters": dict(self.counters),
        }

    def prometheus(self) -> str:
        lines = [
            "# TYPE wechaty_bridge_logged_in gauge",
            f"wechaty_bridge_logged_in {int(self.logged_in)}",
            "# TYPE wechaty_bridge_inbox_depth gauge",
            f"wechaty_bridge_inbox_depth {self.inbox_depth}",
            "# TYPE wechaty_bridge_outbox_pending gauge",
            f"wechaty_bridge_outbox_pending {self.outbox_pending}",
            "# TYPE wechaty_bridge_events_total counter",
        ]
        for name, value in sorted(self.counters.items()):
            metric, _, label = name.partition(":")
            labels = f'{{reason="{label}"}}' if label else ""
            lines.append(f"wechaty_bridge_{metric}_total{labels} {value}")
        return "\n".join(lines) + "\n"


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def http_handler(metrics: Metrics) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            path = request_line.split(b" ")[1].decode() if request_line.count(b" ") >= 2 else ""
            if path == "/metrics":
                status, body, kind = 200, metrics.prometheus(), "text/plain; version=0.0.4"
            elif path == "/healthz":
                # 503 while not logged in, so an orchestrator sees a bridge that cannot serve.
                status, kind = (200 if metrics.logged_in else 503), "application/json"
                body = json.dumps(metrics.state())
            else:
                status, body, kind = 404, "not found\n", "text/plain"
            payload = body.encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {len(payload)}\r\n"
            writer.write(head.encode() + b"Connection: close\r\n\r\n" + payload)
            await writer.drain()
        except (TimeoutError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    return handle
