#!/usr/bin/env python3
"""Smoke test of a running desk: /healthz, /readyz, then one simulator round trip (a customer's
message in, the bot's answer out, from whichever model the desk answers with: the embedded one in
the pipelines' test namespace). Standard library only, so CI runs it with any python3.

    python3 scripts/smoke.py --url http://127.0.0.1:8000
    python3 scripts/smoke.py --url http://127.0.0.1:8080 --host desk-test.example.com --assume-https

--host / --assume-https: through `kubectl port-forward`, past the ingress, production settings want
an allowed Host and X-Forwarded-Proto: https (else 400 / a redirect). The simulator must be on
(SIMULATOR_ENABLED=true: the test overlay deploy/k8s-test sets it). Exit 0 when all passed, else 1.
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any


class SmokeError(Exception):
    pass


class Desk:
    def __init__(self, url: str, host: str, assume_https: bool, timeout: float) -> None:
        if not url.startswith(("http://", "https://")):
            raise SystemExit(f"--url must be http:// or https://, not {url!r}")
        self.url = url.rstrip("/")
        self.headers = {"Accept": "application/json", "User-Agent": "desk-smoke/1"}
        if host:
            self.headers["Host"] = host
        if assume_https:
            self.headers["X-Forwarded-Proto"] = "https"
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        headers = dict(self.headers, **({"Content-Type": "application/json"} if data else {}))
        # http(s) only: __init__ refuses any other scheme.
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError as exc:
            raise SmokeError(f"{method} {path}: {exc}") from exc


def check_status(desk: Desk, path: str) -> None:
    status, body = desk.request("GET", path)
    if status != 200:
        raise SmokeError(f"GET {path} answered {status}: {body[:200]!r}")
    print(f"ok   GET {path} 200")


def round_trip(desk: Desk, wait: float) -> str:
    customer = f"smoke-{uuid.uuid4().hex[:12]}"
    message = {
        "customer_id": customer,
        "client_message_id": uuid.uuid4().hex,
        "display_name": "Smoke test",
        "text": "请问退货要几天？",
    }
    status, body = desk.request("POST", "/api/simulator/messages", message)
    if status not in (200, 202):
        raise SmokeError(f"POST /api/simulator/messages answered {status}: {body[:200]!r}")
    message_id = json.loads(body)["message_id"]
    print(f"ok   POST /api/simulator/messages {status} (message {message_id})")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        status, body = desk.request("GET", f"/api/simulator/messages?customer_id={customer}")
        if status != 200:
            raise SmokeError(f"GET /api/simulator/messages answered {status}: {body[:200]!r}")
        for row in json.loads(body)["messages"]:
            if row["direction"] == "out" and row.get("reply_to_id") == message_id and row["body"].strip():
                print(f"ok   answer from {row['author_kind']}: {row['body'][:80]!r}")
                return str(row["body"])
        time.sleep(1)
    raise SmokeError(f"no answer to message {message_id} within {wait:.0f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the desk's base URL")
    parser.add_argument("--host", default="", help="Host header to send (an allowed host)")
    parser.add_argument("--assume-https", action="store_true", help="send X-Forwarded-Proto: https")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the answer")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    args = parser.parse_args(argv)
    desk = Desk(args.url, args.host, args.assume_https, args.timeout)
    try:
        check_status(desk, "/healthz")
        check_status(desk, "/readyz")
        round_trip(desk, args.wait)
    except SmokeError as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
