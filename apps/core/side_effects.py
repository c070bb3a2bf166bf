"""Side effects that must happen only after the surrounding transaction commits.

Enqueueing a task or pushing a websocket event from inside a transaction races the
commit: a worker can load a row that is not there yet, or a browser can be told of a
message that is then rolled back. Everything goes through these two helpers instead.
What a crash between commit and publish drops is picked up by the sweeper (tasks) or by
the browser's resync from its last seen id (websocket events).
"""

import asyncio
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any

from celery import Task
from channels.layers import get_channel_layer
from django.db import transaction

from apps.core.per_process import PerProcess

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: Task, *args: Any, **options: Any) -> None:
    def _send() -> None:
        try:
            task.apply_async(args=args, **options)
        except Exception:
            # The row is committed; the sweeper will enqueue it again. Do not fail the request.
            logger.exception("enqueue of %s%r failed; the sweeper will retry", task.name, args)

    transaction.on_commit(_send)


class _PublisherLoop:
    """One event loop per process, on a daemon thread, for channel-layer sends from sync code.

    async_to_sync would build a new loop, thread and Redis connection pool for every event
    (channels_redis keys its pools by loop); this keeps one of each for the process. Held in a
    PerProcess: a forked child (Celery prefork, gunicorn) inherits the loop but not the thread
    that ran it, so it builds its own instead of queueing every nudge on a loop nobody runs.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="channel-layer-publisher", daemon=True)
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, None]) -> Future[None]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)


_publisher = PerProcess(_PublisherLoop)


def _log_failure(group: str, future: Future[None]) -> None:
    if future.exception() is not None:
        # Websocket delivery is lossy by design; clients resync from Postgres.
        logger.warning("publish to %s failed (%r); clients will resync", group, future.exception())


def publish(group: str, event: dict[str, Any]) -> Future[None] | None:
    """Send to a channel-layer group without waiting; returns the future for callers that wait."""
    layer = get_channel_layer()
    if layer is None:
        return None
    future = _publisher.get().submit(layer.group_send(group, event))
    future.add_done_callback(lambda done: _log_failure(group, done))
    return future


def publish_on_commit(group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: publish(group, event))
