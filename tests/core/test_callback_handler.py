"""WeChat's callbacks go through a handler with a short middleware list (project/callbacks.py);
every other page keeps the full one."""

import asyncio
import threading

import pytest
from channels.testing import HttpCommunicator

from project.asgi import application
from project.callbacks import CallbackHandler


async def _get(path: str, host: str = "localhost") -> dict[str, object]:
    communicator = HttpCommunicator(application, "GET", path, headers=[(b"host", host.encode())])
    response = await communicator.get_response(timeout=10)
    headers = {name.decode().lower(): value.decode() for name, value in response["headers"]}
    return {"status": response["status"], "headers": headers, "body": response["body"]}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_callback_skips_the_consoles_middleware_but_keeps_its_request_id() -> None:
    callback = await _get("/wechat/oa/wx-no-such-account/")
    page = await _get("/healthz")

    # Unsigned: refused by the callback view itself, as any unsigned callback is.
    assert callback["status"] == 403
    assert callback["body"] == b"forbidden"
    headers = callback["headers"]
    assert isinstance(headers, dict)
    assert headers.get("x-request-id")
    # The console's clickjacking header comes from a middleware the callbacks do not run.
    assert "x-frame-options" not in headers
    page_headers = page["headers"]
    assert isinstance(page_headers, dict)
    assert "x-frame-options" in page_headers
    assert page_headers.get("x-request-id")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_callback_for_a_host_not_allowed_is_refused() -> None:
    # CommonMiddleware checks ALLOWED_HOSTS for the console; the callback wrapper does it itself.
    callback = await _get("/wechat/oa/wx-no-such-account/", host="evil.example")

    assert callback["status"] == 400


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_callbacks_reuse_a_few_threads_and_a_burst_past_them_is_still_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The Prometheus middleware's sync hook notes the thread it ran on (Django runs a sync
    # middleware thread-sensitively: on the request's executor).
    from django_prometheus.middleware import PrometheusBeforeMiddleware

    seen: list[str] = []
    real = PrometheusBeforeMiddleware.process_request

    def noting(self: PrometheusBeforeMiddleware, request: object) -> None:
        seen.append(threading.current_thread().name)
        real(self, request)

    monkeypatch.setattr(PrometheusBeforeMiddleware, "process_request", noting)
    handler = CallbackHandler(threads=2)

    async def call() -> int:
        communicator = HttpCommunicator(handler, "GET", "/wechat/oa/wx-pool/", headers=[(b"host", b"localhost")])
        return int((await communicator.get_response(timeout=10))["status"])

    one_by_one = [await call() for _ in range(6)]
    burst = await asyncio.gather(*(call() for _ in range(5)))

    assert one_by_one == [403] * 6  # an unknown account is refused as an unsigned callback is
    assert list(burst) == [403] * 5
    assert len(seen) == 11
    # One after another: the same pooled thread each time, not a thread started per callback.
    assert len(set(seen[:6])) == 1
    assert seen[0].startswith("callback-")
    # At once: the 2 pooled threads, and threads of their own for the others; nobody waited.
    assert {name for name in seen[6:] if not name.startswith("callback-extra")} <= {"callback-0_0", "callback-1_0"}
