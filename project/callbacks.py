"""WeChat's callbacks through a Django handler of their own, with three middleware instead of thirteen.

A callback is a signed POST from WeChat's servers (or their retries): no session, user, CSRF
token (the views are csrf_exempt), locale, message or clickjacking header means anything to it.
Under ASGI every sync-only or MiddlewareMixin middleware is one or two hops to Django's one
sync thread and back, so the full stack cost a callback more CPU than its own work does
(bench/webhook.py; docs/reliability.md, "CPU per message"). What it keeps: the Prometheus pair
(its requests and 5xx still count in ``django_http_*``) and the request id for the logs.

Same URLconf, same views, same exception handling: only the middleware list differs.
"""

from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

CALLBACK_PREFIXES = ("/wechat/oa/", "/wechat/kf/")
CALLBACK_MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "apps.core.logs.RequestIdMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]


class CallbackHandler(ASGIHandler):
    """Django's ASGI handler with the callbacks' middleware, and sync code run on pooled threads.

    Django's handler enters a fresh ThreadSensitiveContext per request, so every request started a
    thread (and its executor) for the view and shut it down after: at 50 callbacks a second that
    was the web process's largest single self-time entry (ThreadPoolExecutor.submit, issue 22).
    Here each request borrows a long-lived single-thread executor (asgiref's
    ``ThreadSensitiveContext(executor=…)``), which keeps thread-sensitive semantics: all of one
    request's sync code runs on one thread, and no two requests share a thread at once. When all
    are busy a request gets its own, as before, rather than waiting for one.
    """

    def __init__(self, threads: int | None = None) -> None:
        super().__init__()
        count = settings.DESK_CALLBACK_THREADS if threads is None else threads
        self._idle = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"callback-{n}") for n in range(count)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pooled = self._idle.pop() if self._idle else None  # no await between check and pop: one loop
        executor = pooled or ThreadPoolExecutor(max_workers=1, thread_name_prefix="callback-extra")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await super().__call__(scope, receive, send)
        finally:
            if pooled is not None:
                self._idle.append(pooled)
            else:
                executor.shutdown(wait=False)

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
