"""What every WeChat callback view does first: bound the body, check freshness and origin.

Failures map to clean 4xx answers and nothing is stored: 403 for a forged or stale request,
400 for a body that cannot be read, 413 for one that is too large.
"""

import time
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import close_old_connections
from django.http import Http404, HttpRequest, HttpResponse

from apps.wechat.crypto import BadPayload, CallbackRejected, timestamp_check

View = Callable[..., HttpResponse]


def callback_view(view: View) -> Callable[..., Coroutine[Any, Any, HttpResponse]]:
    """Wrap a sync callback view into an async one that runs it on the executor's threads.

    thread_sensitive=False lets acks run in parallel instead of queueing behind Django's one
    sync thread, which kept WeChat's 5 s budget hostage to any slow request. Connections come
    from the per-process pool; close_old_connections() hands them back around each ack.
    """

    @wraps(view)
    async def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        return await sync_to_async(_guarded, thread_sensitive=False)(view, request, *args, **kwargs)

    return wrapper


def _guarded(view: View, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
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
