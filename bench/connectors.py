"""Shop connectors: what the intent step and a look-up add to an answer, and the intent step's precision.

    python bench/connectors.py [--n 200] [--latency-ms 100]

Starts peers/fake_shop.py in its own process answering every request after --latency-ms, then times,
in this process: the intent step (apps/connectors/intent.py) on each message of
peers/order_intent_dataset.py; a look-up by number (one signed POST: sign, send, parse, map) and a
logistics look-up (order + trail, two POSTs) through apps/connectors/client.py. "Added" is the time
beyond the shop's own latency. Also prints precision / recall / exact intent on the labelled set.
No database: an unsaved Connector row carries the configuration.
"""

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
os.environ.setdefault("DESK_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from apps.connectors.client import HttpConnector  # noqa: E402
from apps.connectors.intent import intent_detect  # noqa: E402
from apps.connectors.models import Connector  # noqa: E402
from apps.connectors.types import Shopper  # noqa: E402
from peers.fake_shop import FakeShopProcess  # noqa: E402
from peers.order_intent_dataset import ITEMS  # noqa: E402

SECRET = "bench-secret"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(name: str, ms: list[float], base: float) -> None:
    p50, p95 = percentile(ms, 0.5), percentile(ms, 0.95)
    print(f"{name:<34} P50 {p50:8.3f} ms  P95 {p95:8.3f} ms  added P50 {p50 - base:7.3f} ms  P95 {p95 - base:7.3f} ms")


def intent_figures(connector: Connector) -> None:
    got = [(i.kind if (i := intent_detect(text=text, connector=connector)) else None) for text, _ in ITEMS]
    wanted = [label for _, label in ITEMS]
    asked = [k for k, kind in enumerate(got) if kind]
    should = [k for k, label in enumerate(wanted) if label]
    precision = sum(1 for k in asked if wanted[k]) / len(asked)
    recall = sum(1 for k in should if got[k]) / len(should)
    exact = sum(1 for g, w in zip(got, wanted, strict=True) if g == w) / len(ITEMS)
    print(
        f"intent on {len(ITEMS)} labelled messages: precision {precision:.3f}  recall {recall:.3f}  "
        f"exact kind {exact:.3f}"
    )
    for (text, label), kind in zip(ITEMS, got, strict=True):
        if kind != label:
            print(f"  {text!r}: labelled {label}, read {kind}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=100)
    args = parser.parse_args()
    shop = FakeShopProcess(port=free_port(), secret=SECRET)
    try:
        shop.control("mode", {"mode": "ok", "latency_ms": args.latency_ms})
        connector = Connector(name="bench", base_url=shop.url, secret=SECRET, timeout_s=3.0)
        intent_figures(connector)
        texts = [text for text, _ in ITEMS]
        intent_ms = []
        for _ in range(max(1, args.n // len(texts))):
            for text in texts:
                started = time.perf_counter()
                intent_detect(text=text, connector=connector)
                intent_ms.append((time.perf_counter() - started) * 1000)
        report(f"intent step ({len(intent_ms)} messages)", intent_ms, 0.0)
        client, shopper = HttpConnector(connector=connector), Shopper(identity="simulator:demo")
        client.order(order_no="E20261127001", shopper=shopper)  # warm the connection
        lookup_ms, logistics_ms = [], []
        for _ in range(args.n):
            started = time.perf_counter()
            client.order(order_no="E20261127001", shopper=shopper)
            lookup_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            client.order(order_no="E20261127001", shopper=shopper)
            client.trail(order_no="E20261127001", shopper=shopper)
            logistics_ms.append((time.perf_counter() - started) * 1000)
        report(f"look-up by number ({args.n})", lookup_ms, args.latency_ms)
        report(f"logistics: order + trail ({args.n})", logistics_ms, 2 * args.latency_ms)
        print(f"mean look-up {statistics.mean(lookup_ms):.1f} ms with the shop at {args.latency_ms} ms; {shop.stats()}")
    finally:
        shop.stop()


if __name__ == "__main__":
    main()
