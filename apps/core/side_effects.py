"""Side effects that must happen only after the surrounding transaction commits.

Enqueueing a task or pushing a websocket event from inside a transaction races the
commit: a worker can load a row that is not there yet, or a browser can be told of a
message that is then rolled back. Everything goes through these two helpers instead.
What a crash between commit and publish drops is picked up by the sweeper (tasks) or by
the browser's resync from its last seen id (websocket events).
"""

import logging
from typing import Any

from asgiref.sync import async_to_sync
from celery import Task
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: Task, *args: Any, **options: Any) -> None:
    def _send() -> None:
        try:
            task.apply_async(args=args, **options)
        except Exception:
            # The row is committed; the sweeper will enqueue it again. Do not fail the request.
            logger.exception("enqueue of %s%r failed; the sweeper will retry", task.name, args)

    transaction.on_commit(_send)


def publish_on_commit(group: str, event: dict[str, Any]) -> None:
    def _publish() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(group, event)
        except Exception:
            # Websocket delivery is lossy by design; clients resync from Postgres.
            logger.warning("publish to %s failed; clients will resync", group, exc_info=True)

    transaction.on_commit(_publish)
