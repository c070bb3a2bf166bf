"""What every WeChat callback view does first: bound the body, check freshness and origin.

Failures map to clean 4xx answers and nothing is stored: 403 for a forged or stale request,
400 for a body that cannot be read, 413 for one that is too large.
"""

import time
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any, Protocol, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import close_old_connections
from django.http import Http404, HttpRequest, HttpResponse

from apps.wechat.crypto import BadPayload, CallbackRejected, timestamp_check

_T = TypeVar("_T")


class HeldResponse(Protocol):
    """What a callback view returns to answer later: awaited on the event loop, not on a thread."""

    async def respond(self, *, received_at: float) -> HttpResponse: ...


View = Callable[..., HttpResponse | HeldResponse]


def callback_view(view: View) -> Callable[..., Coroutine[Any, Any, HttpResponse]]:
    """Wrap a sync callback view into an async one that runs it on the executor's threads.

    thread_sensitive=False lets acks run in parallel instead of queueing behind Django's one
    sync thread, which kept WeChat's 5 s budget hostage to any slow request. Connections come
    from the per-process pool; close_old_connections() hands them back around each ack. A view
    that must wait (an Official Account's passive reply) returns a HeldResponse: the wait is a
    coroutine, so a held callback costs no thread.
    """

    @wraps(view)
    async def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        received_at = time.monotonic()
        # ALLOWED_HOSTS, which CommonMiddleware checks for other pages: callbacks skip it
        # (project/callbacks.py). DisallowedHost becomes a 400, as it does there.
        request.get_host()
        result = await sync_to_async(_guarded, thread_sensitive=False)(view, request, *args, **kwargs)
        if isinstance(result, HttpResponse):
            return result
        return await result.respond(received_at=received_at)

    return wrapper


async def callback_work(work: Callable[..., _T], /, **kwargs: object) -> _T:
    """Run a held callback's database work on the executor's threads, as callback_view does."""
    return await sync_to_async(_with_connections, thread_sensitive=False)(work, **kwargs)


def _with_connections(work: Callable[..., _T], /, **kwargs: object) -> _T:
    close_old_connections()
    try:
        return work(**kwargs)
    finally:
        close_old_connections()


def _guarded(view: View, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse | HeldResponse:
    close_old_connections()
    try:
        timestamp_check(
            timestamp=request.GET.get("timestamp", ""),
            now=time.time(),
            tolerance=settings.WECHAT_TIMESTAMP_TOLERANCE_SECONDS,
        )
        return view(request, *args, **kwargs)
    except CallbackRejected:
        return HttpResponse("forbidden", status=403, content_type="text/plain")
    except BadPayload:
        return HttpResponse("bad request", status=400, content_type="text/plain")
    except RequestDataTooBig:
        return HttpResponse("too large", status=413, content_type="text/plain")
    except Http404:
        return HttpResponse("not found", status=404, content_type="text/plain")
    finally:
        close_old_connections()


def callback_body(request: HttpRequest) -> bytes:
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > settings.WECHAT_WEBHOOK_MAX_BYTES:
        raise RequestDataTooBig("callback body too large")
    body = request.body
    if len(body) > settings.WECHAT_WEBHOOK_MAX_BYTES:
        raise RequestDataTooBig("callback body too large")
    if not body:
        raise BadPayload("empty body")
    return body


def plain(text: str) -> HttpResponse:
    return HttpResponse(text, content_type="text/plain; charset=utf-8")
