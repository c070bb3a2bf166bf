"""Metrics go to Prometheus only: never through the public web port, and on each process's own
metrics port only to a request carrying DESK_METRICS_TOKEN."""

import asyncio
import base64
import hmac
import socket
from collections.abc import Iterator, MutableMapping
from typing import Any

import httpx
import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from apps.core import metrics_listener
from apps.core.metrics_listener import MetricsLifespan, MetricsListener, metrics_listen, token_matches
from tests.support.processes import free_port, start_asgi_server


@pytest.fixture
def token() -> str:
    return str(django_settings.DESK_METRICS_TOKEN)


@pytest.fixture
def listener(token: str) -> Iterator[MetricsListener]:
    listener = metrics_listen(port=0, token=token, host="127.0.0.1")
    yield listener
    listener.stop()


def scrape(port: int, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return httpx.get(f"http://127.0.0.1:{port}/metrics", headers=headers, timeout=5)


@pytest.mark.django_db
def test_the_public_web_port_serves_no_metrics_with_or_without_the_token(client: Client, token: str) -> None:
    client.get("/healthz")
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 404


def test_the_right_token_gets_the_metrics(listener: MetricsListener, token: str) -> None:
    response = scrape(listener.port, f"Bearer {token}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE desk_inbound_outcomes_total counter" in response.text


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-token",
        "Bearer {token}x",
        "Bearer {token_prefix}",
        "Token {token}",
        "Basic {basic}",
        "{token}",
    ],
)
def test_a_missing_or_wrong_token_is_refused(listener: MetricsListener, token: str, authorization: str | None) -> None:
    if authorization is not None:
        basic = base64.b64encode(f"prometheus:{token}".encode()).decode()
        authorization = authorization.format(token=token, token_prefix=token[:-1], basic=basic)

    response = scrape(listener.port, authorization)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "desk_" not in response.text


def test_the_token_is_compared_in_constant_time(
    listener: MetricsListener, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(metrics_listener.hmac, "compare_digest", spy)
    assert scrape(listener.port, "Bearer not-the-token").status_code == 401
    assert compared == [(b"not-the-token", token.encode())]


def test_the_scheme_is_case_insensitive_and_the_credentials_are_not() -> None:
    assert token_matches("bearer s3cret-token", "s3cret-token")
    assert token_matches("BEARER  s3cret-token ", "s3cret-token")
    assert not token_matches("Bearer S3CRET-TOKEN", "s3cret-token")
    assert not token_matches("Bearer ", "")


def test_a_listener_without_a_token_refuses_to_start() -> None:
    with pytest.raises(ImproperlyConfigured, match="DESK_METRICS_TOKEN is empty"):
        metrics_listen(port=0, token="", host="127.0.0.1")


# --- the web process: started and stopped with the ASGI server ---------------------------------


class _Lifespan:
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[MutableMapping[str, Any]] = []
        self.task = asyncio.create_task(MetricsLifespan()({"type": "lifespan"}, self.inbox.get, self._send))

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(message)

    async def say(self, kind: str) -> str:
        before = len(self.sent)
        await self.inbox.put({"type": kind})
        while len(self.sent) == before and not self.task.done():
            await asyncio.sleep(0.01)
        return str(self.sent[-1]["type"])


@pytest.mark.asyncio
async def test_the_web_lifespan_serves_metrics_while_the_server_runs(settings: Any, token: str) -> None:
    settings.DESK_WEB_METRICS_PORT = port = free_port()
    lifespan = _Lifespan()

    assert await lifespan.say("lifespan.startup") == "lifespan.startup.complete"
    assert (await asyncio.to_thread(scrape, port, f"Bearer {token}")).status_code == 200
    assert (await asyncio.to_thread(scrape, port, None)).status_code == 401

    assert await lifespan.say("lifespan.shutdown") == "lifespan.shutdown.complete"
    await lifespan.task
    with pytest.raises(httpx.ConnectError):
        await asyncio.to_thread(scrape, port, f"Bearer {token}")


@pytest.mark.asyncio
async def test_the_web_lifespan_fails_start_up_when_the_metrics_port_is_taken(settings: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings.DESK_WEB_METRICS_PORT = taken.getsockname()[1]
        lifespan = _Lifespan()

        assert await lifespan.say("lifespan.startup") == "lifespan.startup.failed"
        assert "metrics listener" in lifespan.sent[-1]["message"]
        await lifespan.task


@pytest.mark.asyncio
async def test_no_port_no_listener(settings: Any) -> None:
    settings.DESK_WEB_METRICS_PORT = 0
    lifespan = _Lifespan()
    assert await lifespan.say("lifespan.startup") == "lifespan.startup.complete"
    assert await lifespan.say("lifespan.shutdown") == "lifespan.shutdown.complete"
    await lifespan.task


@pytest.mark.live
def test_a_live_web_process_serves_metrics_on_its_metrics_port_only(live_env: dict[str, str], token: str) -> None:
    port = free_port()
    web = start_asgi_server({**live_env, "DESK_WEB_METRICS_PORT": str(port)}, port=free_port())
    try:
        httpx.get(f"{web.url}/healthz", timeout=5)
        assert (
            httpx.get(f"{web.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 404
        )
        assert scrape(port, None).status_code == 401
        response = scrape(port, f"Bearer {token}")
    finally:
        web.stop()
    assert response.status_code == 200
    # The web process's own registry: django-prometheus's request counters beside the desk's series
    assert (
        'django_http_requests_total_by_view_transport_method_total{method="GET",transport="http",view="healthz"}'
        in (response.text)
    )
    assert "# TYPE desk_queue_depth gauge" in response.text
