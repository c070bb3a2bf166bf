"""The Prometheus listener of every desk process: a port of its own, and a bearer token.

Not a Django view on the web port: that port is the one the ingress and the TLS proxy publish,
and production settings would refuse Prometheus there anyway (its Host header is a pod or
service address outside DJANGO_ALLOWED_HOSTS, and plain HTTP is redirected to HTTPS). A port
that no Service, ingress rule or published compose port carries keeps the page on the
monitoring network; the token (DESK_METRICS_TOKEN, sent by Prometheus as
``Authorization: Bearer``) keeps it from whatever else shares that network.

Web starts its listener from the ASGI lifespan (``MetricsLifespan``, DESK_WEB_METRICS_PORT),
each Celery worker on worker_init (DESK_WORKER_METRICS_PORT). Both serve the process's default
registry: django-prometheus's series and the desk's own (apps/core/metrics.py).
"""

import asyncio
import hmac
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.exceptions import ImproperlyConfigured
from prometheus_client import REGISTRY, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

from apps.core import gc_policy

logger = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_REFUSED_HEADERS = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("WWW-Authenticate", 'Bearer realm="metrics"'),
]


def token_matches(authorization: str, token: str) -> bool:
    """Whether an Authorization header carries ``Bearer <token>``, compared in constant time."""
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    # compare_digest: response times must not reveal how much of a guess was right.
    return hmac.compare_digest(credentials.strip().encode(), token.encode())


def metrics_wsgi_app(*, token: str, registry: Collector = REGISTRY) -> WsgiApp:
    if not token:
        raise ImproperlyConfigured("DESK_METRICS_TOKEN is empty: the metrics listener would answer anyone.")
    export = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not token_matches(environ.get("HTTP_AUTHORIZATION", ""), token):
            start_response("401 Unauthorized", _REFUSED_HEADERS)
            return [b"Send Authorization: Bearer <DESK_METRICS_TOKEN>.\n"]
        return export(environ, start_response)

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # one stderr line per scrape, outside the desk's log format, is noise


@dataclass
class MetricsListener:
    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def metrics_listen(*, port: int, token: str, host: str) -> MetricsListener:
    """Serve the registry on host:port (0: any free port) in a daemon thread."""
    server = make_server(host, port, metrics_wsgi_app(token=token), ThreadingWSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics-listener", daemon=True)
    thread.start()
    listener = MetricsListener(server=server, thread=thread)
    logger.info("metrics on %s:%d/metrics (bearer token required)", host, listener.port)
    return listener


def process_listener_start(port: int) -> MetricsListener | None:
    """This process's listener on ``port`` with the configured host and token; None when port is 0."""
    from django.conf import settings

    if not port:
        return None
    return metrics_listen(port=port, token=settings.DESK_METRICS_TOKEN, host=settings.DESK_METRICS_HOST)


Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class MetricsLifespan:
    """ASGI lifespan app of the web process: its listener lives exactly as long as the server.

    Started here rather than when project.asgi is imported, so that importing the application
    (tests, management commands) binds no port. A listener that cannot start (port taken, no
    token) fails the server's start-up: a web process nobody can monitor should not look healthy.
    """

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        from django.conf import settings

        listener: MetricsListener | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    listener = process_listener_start(settings.DESK_WEB_METRICS_PORT)
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": f"metrics listener: {exc}"})
                    return
                gc_policy.schedule()  # the server is about to take requests: freeze what start-up built
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if listener is not None:
                    await asyncio.to_thread(listener.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return
