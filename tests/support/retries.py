"""Driving the processing task's retries by hand: eager Celery raises Retry instead of retrying."""

from celery.exceptions import Retry

from apps.conversations.models import Message
from apps.conversations.tasks import process_inbound


def retried(message_id: int, *, tries: int = 5) -> Message:
    """Run process_inbound again while the message waits for a retry, as a worker would; the message after."""
    for attempt in range(1, tries + 1):
        if Message.objects.get(pk=message_id).status != Message.Status.RECEIVED:
            break
        try:
            process_inbound.apply(args=(message_id,), retries=attempt, throw=True)
        except Retry:
            continue
    return Message.objects.get(pk=message_id)
