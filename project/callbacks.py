"""WeChat's callbacks through a Django handler of their own, with three middleware instead of thirteen.

A callback is a signed POST from WeChat's servers (or their retries): no session, user, CSRF
token (the views are csrf_exempt), locale, message or clickjacking header means anything to it.
Under ASGI every sync-only or MiddlewareMixin middleware is one or two hops to Django's one
sync thread and back, so the full stack cost a callback more CPU than its own work does
(bench/webhook.py; docs/reliability.md, "CPU per message"). What it keeps: the Prometheus pair
(its requests and 5xx still count in ``django_http_*``) and the request id for the logs.

Same URLconf, same views, same exception handling: only the middleware list differs.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

CALLBACK_PREFIXES = ("/wechat/oa/", "/wechat/kf/")
CALLBACK_MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "apps.core.logs.RequestIdMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class CallbackHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler reads settings.MIDDLEWARE; swapped only while this handler is built, at
        # start-up, before any request is served.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = CALLBACK_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class CallbackRouter:
    """HTTP: WeChat's callback paths to ``callbacks``, everything else to ``django``."""

    def __init__(self, django: Callable[..., Awaitable[None]], callbacks: Callable[..., Awaitable[None]]) -> None:
        self.django, self.callbacks = django, callbacks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        app = self.callbacks if path.startswith(CALLBACK_PREFIXES) else self.django
        await app(scope, receive, send)
