"""Structured logs: one JSON object per line (DESK_LOG_JSON=true) carrying the request id of the
HTTP request, or the Celery task and the message/export id it works on, that produced the line."""

import json
import logging
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

request_id_var: ContextVar[str] = ContextVar("request_id", default="")

# The spine's tasks take the id they work on as their first argument.
_ID_ARG = {
    "apps.conversations.tasks.process_inbound": "message_id",
    "apps.conversations.tasks.deliver": "message_id",
    "apps.reports.tasks.run_export": "export_id",
}
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class RequestIdMiddleware:
    """Takes X-Request-ID from the proxy (or makes one), exposes it to the logs, echoes it back.

    Sync and async: in an async chain (WeChat's callbacks, project/callbacks.py) a sync-only
    middleware would cost a hop to Django's sync thread and back on every request."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        request_id = _request_id(request)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        request_id = _request_id(request)
        response = await self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def _request_id(request: HttpRequest) -> str:
    request_id = (request.headers.get("X-Request-ID") or uuid.uuid4().hex)[:64]
    # Not reset on the way out: Django logs the response (4xx/5xx) after the middleware returns.
    # Every request sets its own, and under ASGI each request runs in a context of its own.
    request_id_var.set(request_id)
    return request_id


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if request_id := request_id_var.get():
            entry["request_id"] = request_id
        entry.update(_task_fields())
        # Anything passed as logger.info(..., extra={"message_id": ...}).
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _task_fields() -> dict[str, Any]:
    try:
        from celery import current_task
    except ImportError:  # pragma: no cover - celery is a dependency
        return {}
    task = current_task
    if not task or not getattr(task.request, "id", None):  # a proxy: falsy outside a task
        return {}
    fields: dict[str, Any] = {"task": task.name, "task_id": task.request.id}
    id_name = _ID_ARG.get(task.name)
    if id_name and task.request.args:
        fields[id_name] = task.request.args[0]
    return fields
